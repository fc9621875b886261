/** postject ships no types: the one function vmftp's build uses (postject's README, "API"). */
declare module 'postject' {
  interface InjectOptions {
    /** The fuse string in the binary that says a resource is present (Node's NODE_SEA_FUSE_...). */
    readonly sentinelFuse?: string;
    /** macOS only. */
    readonly machoSegmentName?: string;
    readonly overwrite?: boolean;
  }
  function inject(filename: string, resourceName: string, resourceData: Buffer, options?: InjectOptions): Promise<void>;
  const postject: { readonly inject: typeof inject };
  export default postject;
}
