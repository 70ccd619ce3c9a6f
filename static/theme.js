// Loaded without defer in <head>, before the first paint (no inline script: the CSP forbids it).
// The person's colour scheme: Bootstrap's colour modes follow prefers-color-scheme, also when
// it changes while a page is open. Without JavaScript pages stay light.
// <html class="js">: the navbar's menu starts collapsed behind its toggler (hubdesk.js opens
// it); without JavaScript the links are simply shown, stacked, on a narrow screen.
(() => {
  const root = document.documentElement;
  root.classList.add("js");
  const dark = window.matchMedia("(prefers-color-scheme: dark)");
  const apply = () => root.setAttribute("data-bs-theme", dark.matches ? "dark" : "light");
  apply();
  dark.addEventListener("change", apply);
})();
