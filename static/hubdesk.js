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
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  const boxes = () => all.form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`);
  all.hidden = false;
  all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
});
