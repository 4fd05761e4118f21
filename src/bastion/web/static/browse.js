// The data browser's filter form: leave empty fields out of the URL, so a filtered view reads
// as what it filters (?q=refund&state=done). Without script the form still works, with every field.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || form.id !== "browse-filters") return;
  for (const field of form.querySelectorAll("input, select")) {
    if (field.name && field.value.trim() === "") field.disabled = true;
  }
  // Re-enable them after the browser has read the form (the back button shows it as it was).
  setTimeout(() => form.querySelectorAll("[disabled]").forEach((f) => { f.disabled = false; }), 0);
});
