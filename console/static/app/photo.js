// Photos are made small on the phone before they are queued: a phone camera's 12 MP
// picture is 4–8 MB, which a basement's one bar of signal may never get through. 1600 px
// on the long side still shows a gauge needle or a water stain clearly.

export const MAX_SIDE = 1600;
const JPEG_QUALITY = 0.85;

/**
 * The picture ``file`` as a JPEG no larger than MAX_SIDE on its long side, upright.
 * Re-encoding also drops the camera's EXIF block (with its GPS position).
 * @returns {Promise<{blob: Blob, width: number, height: number}>}
 */
export async function downscale(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  try {
    const scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    const context = canvas.getContext("2d");
    // JPEG has no transparency: a transparent picture gets white, not black, behind it.
    context.fillStyle = "#fff";
    context.fillRect(0, 0, width, height);
    context.drawImage(bitmap, 0, 0, width, height);
    const blob = await new Promise((resolve, reject) => {
      canvas.toBlob(
        (made) => (made ? resolve(made) : reject(new Error("the picture could not be encoded"))),
        "image/jpeg",
        JPEG_QUALITY,
      );
    });
    return { blob, width, height };
  } finally {
    bitmap.close();
  }
}
