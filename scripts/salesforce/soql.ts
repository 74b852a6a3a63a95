/**
 * SOQL text built from values: quoting, and packing long IN lists into as few queries as
 * fit in one REST request (the URI and headers of a Salesforce REST call may not exceed
 * 16,384 bytes; we keep the encoded query under 12,000 to leave room for the rest).
 */

/** A SOQL string literal: backslash and quote escaped, control characters spelled. */
export function soqlQuote(value: string): string {
    const escaped = value
        .replace(/\\/g, '\\\\')
        .replace(/'/g, "\\'")
        .replace(/\n/g, '\\n')
        .replace(/\r/g, '\\r')
        .replace(/\t/g, '\\t');
    return `'${escaped}'`;
}

/** Bytes the query takes in a URL (`?q=` value). */
export function encodedLength(soql: string): number {
    return encodeURIComponent(soql).length;
}

export const MAX_ENCODED_QUERY = 12_000;

/** One IN condition: a field and the values to match. */
export interface InClause {
    field: string;
    values: readonly string[];
}

/**
 * Splits `IN` conditions into queries of at most `maxEncoded` bytes (encoded) each:
 * `${head} WHERE (f1 IN (…) OR f2 IN (…))${tail}`. Values are deduplicated; every value
 * ends up in exactly one query. `extraWhere` is ANDed to each query.
 */
export function packInQueries(
    head: string,
    clauses: readonly InClause[],
    options: {
        tail?: string;
        extraWhere?: string;
        maxEncoded?: number;
    } = {}
): string[] {
    const max = options.maxEncoded ?? MAX_ENCODED_QUERY;
    const tail = options.tail ?? '';
    const items: { clause: number; literal: string }[] = [];
    clauses.forEach((c, i) => {
        for (const v of new Set(c.values))
            items.push({ clause: i, literal: soqlQuote(v) });
    });
    const render = (chunk: string[][]): string => {
        const parts = chunk
            .map((lits, i) =>
                lits.length ? `${clauses[i].field} IN (${lits.join(', ')})` : ''
            )
            .filter(Boolean);
        const where = parts.length > 1 ? `(${parts.join(' OR ')})` : parts[0];
        const full = options.extraWhere
            ? `${where} AND ${options.extraWhere}`
            : where;
        return `${head} WHERE ${full}${tail}`;
    };
    const queries: string[] = [];
    let chunk: string[][] = clauses.map(() => []);
    let size = encodedLength(
        render(clauses.map((_, i) => (i === 0 ? ["''"] : [])))
    );
    let count = 0;
    for (const item of items) {
        // ", 'value'" (or the clause's opening when it is the first value of its clause)
        const cost =
            encodeURIComponent(item.literal).length +
            (chunk[item.clause].length
                ? encodeURIComponent(', ').length
                : encodeURIComponent(` OR ${clauses[item.clause].field} IN ()`)
                      .length);
        if (count > 0 && size + cost > max) {
            queries.push(render(chunk));
            chunk = clauses.map(() => []);
            size = encodedLength(
                render(clauses.map((_, i) => (i === 0 ? ["''"] : [])))
            );
            count = 0;
        }
        chunk[item.clause].push(item.literal);
        size += cost;
        count += 1;
    }
    if (count > 0) queries.push(render(chunk));
    return queries;
}
