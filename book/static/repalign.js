// Every figure in a page's body opens full size on click: wrap each image that is not already
// a link in a link to the image file itself. Not in the copy printed to PDF (repalign.pdf marks
// it): there a link to an image file would point at the build machine.
document.addEventListener("DOMContentLoaded", () => {
  if ("repalignPrint" in document.documentElement.dataset) return;
  for (const image of document.querySelectorAll("article.bd-article img")) {
    if (image.closest("a")) continue;
    const link = document.createElement("a");
    link.href = image.getAttribute("src");
    link.className = "repalign-zoom";
    link.title = "Open the figure full size";
    image.replaceWith(link);
    link.appendChild(image);
  }
});
