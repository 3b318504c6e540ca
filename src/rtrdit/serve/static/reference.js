// Shared by the camera page and the watch page: a reference image file as a JPEG data URL, scaled to
// at most 768 px on its long side (phones' photos are large); null if the browser cannot read it.
"use strict";

async function referenceDataURL(file) {
  let bmp;
  try { bmp = await createImageBitmap(file); } catch { return null; }
  const s = Math.min(1, 768 / Math.max(bmp.width, bmp.height));
  const c = document.createElement("canvas");
  c.width = Math.max(1, Math.round(bmp.width * s)); c.height = Math.max(1, Math.round(bmp.height * s));
  c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
  return c.toDataURL("image/jpeg", 0.9);
}
