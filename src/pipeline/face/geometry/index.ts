/** Face geometry: the 131-point subset, crops and their maps, masks, sketches, piecewise-affine warps, paste-back. */
export * from './image.ts';
export * from './mediapipeTopology.ts';
export * from './subset131.ts';
export * from './crop.ts';
export * from './mask.ts';
export * from './sketch.ts';
export * from './triangulate.ts';
export * from './warp.ts';
export * from './paste.ts';
