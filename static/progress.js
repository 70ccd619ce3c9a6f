// Live spawn progress: reads hubdesk's copy of the hub's progress stream
// (server-sent events) and shows a bar, the messages, and the outcome.
// Without JavaScript the page reloads itself instead (a <noscript> refresh).
(() => {
  const box = document.getElementById("progress");
  // only a start under way is followed: the page itself says how a stopped server's last
  // start went (hubdesk asked the hub before sending it)
  if (!box || box.dataset.state !== "starting" || !window.EventSource) return;
  const watching = box.dataset.state;
  const bar = box.querySelector(".progress-bar");
  const meter = box.querySelector("[role=progressbar]");
  const list = box.querySelector("[data-testid=events]");
  const outcome = box.querySelector("[data-testid=outcome]");
  const badge = document.querySelector("h1 [data-state]");
  const waiting = document.createElement("li");
  waiting.className = "text-muted";
  const patience = "Waiting for the hub's progress…";
  waiting.textContent = patience;
  list.append(waiting);
  const source = new EventSource(box.dataset.events);
  let busy = false; // hubdesk is passing on as many streams as it will: it asked us to retry

  const widen = (percent) => {
    bar.classList.remove("progress-start");
    bar.style.width = `${percent}%`; // set through the CSSOM: allowed by the CSP
  };
  // the vocabulary's words and colours for a start's two ends (data-running-* and
  // data-failed-*, from states.py): the same as every page's
  const term = (kind) => {
    const key = kind === "success" ? "running" : "failed";
    return { key, words: box.dataset[`${key}Words`], badge: box.dataset[`${key}Badge`], alert: box.dataset[`${key}Alert`] };
  };
  const finish = (kind, build) => {
    const said = term(kind);
    source.close();
    waiting.remove();
    widen(100);
    meter.setAttribute("aria-valuenow", "100");
    if (badge) {
      badge.textContent = said.words;
      badge.className = `badge ${said.badge}`;
      badge.dataset.state = said.key;
    }
    bar.classList.remove("progress-bar-animated", "progress-bar-striped");
    bar.classList.add(...said.badge.split(" "));
    outcome.replaceChildren();
    const alert = document.createElement("div");
    alert.className = `alert ${said.alert}`;
    build(alert);
    outcome.append(alert);
    box.dataset.state = said.key;
  };

  source.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    busy = Boolean(event.busy);
    waiting.textContent = !busy
      ? patience
      : event.yours
        ? "You are watching as many spawns as hubdesk follows for one person; this one waits until one of them ends…"
        : "hubdesk is following many spawns right now; it will look again in a few seconds…";
    if (busy) return;
    if (typeof event.progress === "number") {
      widen(Math.max(5, event.progress));
      meter.setAttribute("aria-valuenow", String(event.progress));
    }
    if (event.message && !event.failed && !event.stopped) { // a failure is said once, below
      const item = document.createElement("li");
      item.textContent = event.message; // text, never HTML
      list.append(item);
    }
    if (event.ready) {
      finish("success", (alert) => {
        alert.append("Ready — ");
        const link = document.createElement("a");
        link.href = event.url || "#";
        link.target = "_blank";
        link.rel = "noopener";
        link.textContent = "open the server";
        alert.append(link);
      });
    } else if (event.failed) {
      finish("danger", (alert) => { alert.textContent = event.message || "The spawn failed."; });
    } else if (event.stopped) {
      source.close();
      waiting.remove();
      if (watching === "starting") window.location.reload(); // show the page's own state
    }
  };
  source.onerror = () => {
    if (busy) return; // the stream was closed on purpose: EventSource reconnects by itself
    if (box.dataset.state === watching && watching === "starting") {
      source.close();
      window.setTimeout(() => window.location.reload(), 2000); // fall back to the page's own state
    }
  };
})();
