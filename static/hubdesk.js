// hubdesk's small enhancements. Every page works without them.
// "Select all" checkboxes: <input type="checkbox" data-select-all="NAME" hidden>
// ticks every checkbox named NAME in the same form.
// <form data-confirm="Question?">: ask before sending (the pages without JavaScript
// send at once; actions that lose more, like removing, have a confirmation page).
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});
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
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  const boxes = () => all.form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`);
  all.hidden = false;
  all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
});
