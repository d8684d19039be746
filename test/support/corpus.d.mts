/** The shared corpus directory (see corpus.mjs for where it is looked for), or null. */
export declare const CORPUS_DIR: string | null;
/** Why corpus tests cannot run here, or null when the corpus was found. */
export declare const corpusMissing: string | null;
/** Path of a corpus file; throws `corpusMissing` when there is no corpus. */
export declare function corpusFile(relative: string): string;
