// hubdesk's small enhancements. Every page works without them.
// The navbar's toggler (<button data-nav-toggle aria-controls="ID">) opens and closes the menu
// below 768 px: Bootstrap's .collapse.show without its 80 KB bundle. Escape closes it.
document.querySelectorAll("[data-nav-toggle]").forEach((toggler) => {
  const menu = document.getElementById(toggler.getAttribute("aria-controls"));
  const show = (open) => {
    menu.classList.toggle("show", open);
    toggler.setAttribute("aria-expanded", String(open));
  };
  toggler.addEventListener("click", () => show(!menu.classList.contains("show")));
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.classList.contains("show")) {
      show(false);
      toggler.focus();
    }
  });
});
// A table wider than the window scrolls in its <div class="table-responsive">: while it does,
// the box takes the keyboard's focus (arrow keys scroll it) and is named as a region.
const scrollingTables = () => document.querySelectorAll(".table-responsive").forEach((box) => {
  if (box.scrollWidth > box.clientWidth) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Table (scrolls sideways)");
  } else if (box.getAttribute("role") === "region") {
    box.removeAttribute("tabindex");
    box.removeAttribute("role");
    box.removeAttribute("aria-label");
  }
});
scrollingTables();
window.addEventListener("resize", scrollingTables);
// <input list="ID" data-suggest="URL">: fill the datalist as the person types, from
// URL?q=… (a JSON list of names); without JavaScript the field takes any name.
document.querySelectorAll("input[data-suggest]").forEach((input) => {
  const list = document.getElementById(input.getAttribute("list"));
  let timer, asked = "";
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      const q = input.value.trim();
      if (!q || q === asked) return;
      asked = q;
      try {
        const answer = await fetch(`${input.dataset.suggest}?q=${encodeURIComponent(q)}`, {
          headers: { Accept: "application/json" }, credentials: "same-origin",
        });
        if (!answer.ok || q !== asked) return;
        const names = await answer.json();
        list.replaceChildren(...names.map((name) => Object.assign(document.createElement("option"), { value: name })));
      } catch { /* suggestions are a convenience: typing still works */ }
    }, 150);
  });
});
// "Select all" checkboxes: <input type="checkbox" data-select-all="NAME" hidden>
// ticks every checkbox named NAME in the same form.
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  // the form's elements, not its subtree: a roster's ticks join their form by `form="…"`
  const boxes = () => [...all.form.elements].filter(
    (b) => b.type === "checkbox" && b.name === all.dataset.selectAll);
  all.hidden = false;
  all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
});
// Bulk buttons: <button data-needs-ticked="NAME"> is enabled while a checkbox named NAME in its
// form is ticked (without JavaScript it always is, and the next page says when none was).
document.querySelectorAll("button[data-needs-ticked]").forEach((button) => {
  const boxes = () => [...button.form.elements].filter(
    (b) => b.type === "checkbox" && b.name === button.dataset.needsTicked);
  const update = () => { button.disabled = !boxes().some((b) => b.checked); };
  button.form.addEventListener("change", update);
  update();
});
// Start forms with profile options: <select data-profile-select> shows only the chosen
// profile's <fieldset data-profile-options="SLUG">, only its description (<p data-about="SLUG">
// in [data-profile-about]), and the raw user_options box ([data-raw-options]) only while "My own
// user_options" (__raw__) is chosen; <select data-unlisted="NAME"> shows the free-text field
// NAME only while its "unlisted-choice" is chosen. Hidden fields are disabled, so they are not
// sent; without JavaScript every field and description is shown and every field sent, and
// hubdesk reads only the chosen profile's (and the raw box only with "My own user_options").
document.querySelectorAll("select[data-profile-select]").forEach((select) => {
  const sets = select.form.querySelectorAll("fieldset[data-profile-options]");
  const about = select.form.querySelectorAll("[data-profile-about] [data-about]");
  const raw = select.form.querySelector("[data-raw-options]");
  // "only the chosen profile's options are used": said for the page without JavaScript
  select.form.querySelectorAll("[data-profile-note]").forEach((note) => { note.hidden = true; });
  const show = () => {
    sets.forEach((set) => {
      const chosen = set.dataset.profileOptions === select.value;
      set.hidden = !chosen;
      set.disabled = !chosen;
    });
    about.forEach((text) => { text.hidden = text.dataset.about !== select.value; });
    if (raw) {
      const typed = select.value === "__raw__";
      raw.hidden = !typed;
      raw.querySelectorAll("textarea").forEach((box) => { box.disabled = !typed; });
    }
  };
  select.addEventListener("change", show);
  show();
});
document.querySelectorAll("select[data-unlisted]").forEach((select) => {
  const input = select.form.querySelector(`input[name="${CSS.escape(select.dataset.unlisted)}"]`);
  const box = input.closest("[data-unlisted-for]");
  const show = () => {
    const typed = select.value === "unlisted-choice";
    box.hidden = !typed;
    input.disabled = !typed;
    input.required = typed;
  };
  select.addEventListener("change", show);
  show();
});
// <tbody data-live id="ID">: while one of its rows is starting or stopping (or until
// data-live-until, seconds since the epoch: a lesson's servers are about to start or stop),
// the rows are read again every few seconds from this page's own address (what is ticked
// stays ticked); it stops once nothing is under way. Without JavaScript, reload the page.
document.querySelectorAll("tbody[data-live][id]").forEach((first) => {
  let box = first;
  const busy = () => box.querySelector("[data-state=starting], [data-state=stopping]")
    || Date.now() < Number(box.dataset.liveUntil || 0) * 1000;
  const again = () => window.setTimeout(refresh, 3000);
  async function refresh() {
    if (!busy()) return;
    if (document.hidden) return again();
    try {
      const answer = await fetch(window.location.href, { credentials: "same-origin" });
      const fresh = answer.ok
        ? new DOMParser().parseFromString(await answer.text(), "text/html").getElementById(box.id)
        : null;
      if (fresh) {
        const ticked = new Set([...box.querySelectorAll("input:checked")].map((b) => b.value));
        fresh.querySelectorAll("input[type=checkbox]").forEach((b) => { b.checked = ticked.has(b.value); });
        box.replaceWith(fresh);
        box = fresh;
      }
    } catch { /* the hub or hubdesk is away for a moment: try again */ }
    again();
  }
  again();
});
// <input data-browser-zone>: an empty time-zone field takes the browser's own, said in words
// next to it (<span data-zone-words>); without JavaScript the person types one.
document.querySelectorAll("input[data-browser-zone]").forEach((input) => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const words = input.form && input.form.querySelector("[data-zone-words]");
  if (!input.value && zone) {
    input.value = zone;
    if (words) words.textContent = `Filled in: your browser's time zone, ${zone}.`;
  }
});
// The person's time zone (templates/base.html's <footer data-time-zone="NAME", empty while the
// server does not know it): the browser's own zone goes to the server in a cookie, written only
// when it is not the one this page was made with; from the next page on, times are in it.
// Without JavaScript (or with a zone the server does not know) pages stay in UTC, and say so.
document.querySelectorAll("[data-time-zone]").forEach((line) => {
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch { return; }
  if (zone === line.dataset.timeZone || !/^[A-Za-z][\w+-]*(\/[\w+-]+){0,2}$/.test(zone)) return;
  const secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `hubdesk-zone=${zone}; Path=${line.dataset.cookiePath || "/"}; Max-Age=31536000; SameSite=Lax${secure}`;
  line.textContent += " From the next page on, in your browser's time zone.";
});
