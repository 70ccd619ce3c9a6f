// hubdesk's small enhancements. Every page works without them.
// "Select all" checkboxes: <input type="checkbox" data-select-all="NAME" hidden>
// ticks every checkbox named NAME in the same form.
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  const boxes = () => all.form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`);
  all.hidden = false;
  all.addEventListener("change", () => boxes().forEach((b) => { b.checked = all.checked; }));
});
