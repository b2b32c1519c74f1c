/**
 * Per-coordinate One Euro filter (Casiez et al. 2012) over a whole landmark set, scale-normalised like MediaPipe's
 * LandmarksSmoothingCalculator: coordinates are divided by the face scale (interocular distance) before filtering,
 * so the same parameters hold for a face of 60 or 600 pixels. Mouth-region points get their own (lighter)
 * parameters so that smoothing does not make the lips lag.
 */

export interface OneEuroParams {
  /** Cut-off at rest, Hz: lower removes more jitter. */
  minCutoffHz: number;
  /** Cut-off gain per unit of speed (interocular distances per second): higher follows fast motion sooner. */
  beta: number;
  /** Cut-off of the speed estimate, Hz. */
  derivateCutoffHz: number;
}

export interface SmoothingOptions {
  /** Points outside the mouth region (eyes, brows, nose, oval). */
  face: OneEuroParams;
  /** Lips, jaw and the skin around the mouth. */
  mouth: OneEuroParams;
}

export const defaultSmoothingOptions: SmoothingOptions = {
  face: { minCutoffHz: 1.0, beta: 10, derivateCutoffHz: 1.0 },
  mouth: { minCutoffHz: 3.0, beta: 20, derivateCutoffHz: 1.0 },
};

function alpha(cutoffHz: number, dtS: number): number {
  const tau = 1 / (2 * Math.PI * cutoffHz);
  return 1 / (1 + tau / dtS);
}

export class OneEuroSmoother {
  private readonly x: Float32Array;
  private readonly dx: Float32Array;
  /** Per-value parameter set: 1 = mouth, 0 = face. */
  private readonly isMouth: Uint8Array;
  private lastUs = 0;
  private primed = false;

  /**
   * @param valueCount number of values (points x 3)
   * @param mouthPoints point indices that take the mouth parameters
   */
  constructor(
    valueCount: number,
    mouthPoints: readonly number[],
    private readonly params: SmoothingOptions = defaultSmoothingOptions,
  ) {
    this.x = new Float32Array(valueCount);
    this.dx = new Float32Array(valueCount);
    this.isMouth = new Uint8Array(valueCount);
    for (const p of mouthPoints) for (let k = 0; k < 3; k++) if (p * 3 + k < valueCount) this.isMouth[p * 3 + k] = 1;
  }

  reset(): void {
    this.primed = false;
  }

  /**
   * Filters `raw` into `out` (may be the same array).
   * @param timestampUs frame time; gaps over 500 ms restart the filter
   * @param scale face scale in pixels (interocular distance): speeds are measured in scales per second
   */
  apply(raw: Float32Array, out: Float32Array, timestampUs: number, scale: number): void {
    let dt = (timestampUs - this.lastUs) / 1e6;
    if (!this.primed || dt > 0.5) {
      for (let i = 0; i < raw.length; i++) {
        this.x[i] = raw[i] ?? 0;
        this.dx[i] = 0;
        out[i] = raw[i] ?? 0;
      }
      this.primed = true;
      this.lastUs = timestampUs;
      return;
    }
    // Equal or backwards timestamps (frames without times): assume 25 fps.
    if (!(dt > 0)) dt = 0.04;
    else this.lastUs = timestampUs;
    // Only the speed is scale-normalised (as MediaPipe's OneEuroFilter does): the values stay in pixels.
    const inv = scale > 0 ? 1 / scale : 0;
    const f = this.params.face;
    const m = this.params.mouth;
    const aDf = alpha(f.derivateCutoffHz, dt);
    const aDm = alpha(m.derivateCutoffHz, dt);
    for (let i = 0; i < raw.length; i++) {
      const mouth = this.isMouth[i] === 1;
      const p = mouth ? m : f;
      const v = raw[i] ?? 0;
      const prev = this.x[i] ?? 0;
      const d = ((v - prev) * inv) / dt;
      const ed0 = this.dx[i] ?? 0;
      const ed = ed0 + (mouth ? aDm : aDf) * (d - ed0);
      this.dx[i] = ed;
      const x = prev + alpha(p.minCutoffHz + p.beta * Math.abs(ed), dt) * (v - prev);
      this.x[i] = x;
      out[i] = x;
    }
  }
}
