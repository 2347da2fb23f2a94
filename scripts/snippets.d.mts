/** The ```ts / ```typescript blocks of a markdown file, with the line each starts on. */
export function snippets(md: string): { line: number; code: string }[];
