// The dashboard reloads itself so its numbers stay live; lease timers count down.
"use strict";
(() => {
  const stamp = document.getElementById("refreshed");
  if (stamp) stamp.textContent = "updated " + new Date().toLocaleTimeString();
  for (const td of document.querySelectorAll("[data-expires]")) {
    td.textContent = Math.max(0, Math.round(+td.dataset.expires - Date.now() / 1000)) + " s";
  }
  setTimeout(() => location.reload(), 10000);
})();
