// Sets the colour theme before the first paint: the one remembered in localStorage, else the system's.
// A classic (non-module) script in <head> so a dark page never flashes light.
(function () {
  "use strict";
  var theme = null;
  try {
    theme = window.localStorage.getItem("kmsd-theme");
  } catch (e) {
    theme = null;
  }
  if (theme !== "light" && theme !== "dark") {
    theme = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }
  document.documentElement.setAttribute("data-theme", theme);
})();
