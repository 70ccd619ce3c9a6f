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
// Start forms with profile options: <select data-profile-select> shows only the chosen
// profile's <fieldset data-profile-options="SLUG">, and <select data-unlisted="NAME"> shows
// the free-text field NAME only while its "unlisted-choice" is chosen. Hidden fields are
// disabled, so they are not sent; without JavaScript every field is shown and sent, and
// hubdesk reads only the chosen profile's.
document.querySelectorAll("select[data-profile-select]").forEach((select) => {
  const sets = select.form.querySelectorAll("fieldset[data-profile-options]");
  const show = () => sets.forEach((set) => {
    const chosen = set.dataset.profileOptions === select.value;
    set.hidden = !chosen;
    set.disabled = !chosen;
  });
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
