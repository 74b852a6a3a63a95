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

/**
 * Facts (ids, codes) that appear cut somewhere: their first 12 characters are followed
 * by something else than the rest (e.g. a column too narrow broke the id in two).
 */
export function cutFacts(text: string, facts: readonly string[]): string[] {
    return facts.filter((f) => {
        const head = f.slice(0, 12);
        for (
            let at = text.indexOf(head);
            at >= 0;
            at = text.indexOf(head, at + 1)
        )
            if (!text.startsWith(f, at)) return true;
        return false;
    });
}
