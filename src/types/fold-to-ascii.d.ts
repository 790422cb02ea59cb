// fold-to-ascii ships no types: the two functions the store uses (src/text-fold.ts).
declare module 'fold-to-ascii' {
  const ASCIIFolder: {
    /** Each character with an ASCII equivalent replaced by it; others kept. */
    foldMaintaining(text: string): string;
    /** Each character with an ASCII equivalent replaced by it; others replaced by `replacement`. */
    foldReplacing(text: string, replacement?: string): string;
  };
  export default ASCIIFolder;
}
