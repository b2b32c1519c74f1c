// Tools every part of the project uses. Other steps list their own packages.
export const name = 'base';
export const aptPackages = ['ffmpeg', 'sox'];
