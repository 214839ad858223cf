// The audit file's script (inlined, no network): folded fan-outs open and close, and
// the failure banner opens the fan-out that holds the failing call.
"use strict";
document.addEventListener("click", function (ev) {
  var button = ev.target.closest(".expand");
  if (button) {
    var body = button.closest("tbody.bucket");
    var open = body.classList.toggle("open");
    button.setAttribute("aria-expanded", String(open));
    return;
  }
  var jump = ev.target.closest("[data-jump]");
  if (jump) {
    var row = document.getElementById("call-" + jump.dataset.jump);
    var bucket = row && row.closest("tbody.bucket");
    if (bucket) bucket.classList.add("open");
    if (row) row.classList.add("flash");
  }
});
