/** The part of hessian.js (no types of its own) the Dubbo codec uses: Hessian 2.0 values in sequence. */
declare module 'hessian.js' {
  export class EncoderV2 {
    write(value: unknown): this;
    get(): Buffer;
  }
  export class DecoderV2 {
    constructor(buf: Buffer);
    read(withType?: boolean): unknown;
  }
}
