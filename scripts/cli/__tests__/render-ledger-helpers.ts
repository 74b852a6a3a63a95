/**
 * Checks shared by the render tests of the ledger commands: the text fits the width,
 * and each fact (an email, an id, a status, an error code) is there whole, not cut by
 * the wrapping.
 */

/** The widths every renderer is tested at: a small terminal and a wide one. */
export const WIDTHS = [80, 160] as const;

/** Lines longer than `columns`, with their length (empty when the text fits). */
export function overflowing(text: string, columns: number): string[] {
    return text
        .split('\n')
        .filter((l) => [...l].length > columns)
        .map((l) => `${[...l].length}: ${l}`);
}

/** The facts missing from the text (empty when all are there, each on one line). */
export function missingFacts(text: string, facts: readonly string[]): string[] {
    return facts.filter((f) => !text.includes(f));
}

/** How many times `fact` occurs in `text`. */
const occurrences = (text: string, fact: string): number =>
    text.split(fact).length - 1;

/**
 * Facts that occur fewer times in `text` than in `unwrapped` (the same result rendered
 * too wide to wrap): somewhere the wrapping cut one in two.
 */
export function cutFacts(
    text: string,
    unwrapped: string,
    facts: readonly string[]
): string[] {
    return facts.filter(
        (f) => occurrences(text, f) < occurrences(unwrapped, f)
    );
}

/** Wide enough that nothing wraps: the reference for `cutFacts`. */
export const UNWRAPPED = 10_000;
