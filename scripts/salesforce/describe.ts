/**
 * R7: before any write, the fields a job will write must exist and be updateable (and,
 * for records it creates, createable). Checked with describe (cached by the client) so
 * that a missing package stops the run before anything changes, with the field named
 * and the command that installs it.
 */
import { OptoutError } from '../model/errors';
import type { OrgClient } from './client';

export interface FieldNeed {
    object: string;
    field: string;
    /** Default: update. Upserts need both. */
    access?: 'update' | 'create' | 'upsert';
}

export interface FieldProblem {
    object: string;
    field: string;
    problem:
        | 'object missing'
        | 'field missing'
        | 'not updateable'
        | 'not createable';
}

function deployActions(targetOrg: string): string[] {
    return [
        `Install or update the package: optout deploy --target-org ${targetOrg}`,
        'Then give the integration user the Opt_Out_Sync_Integration permission set (field access)'
    ];
}

/** The fields that cannot be written as needed (empty when all is well). */
export async function findFieldProblems(
    client: OrgClient,
    needs: readonly FieldNeed[]
): Promise<FieldProblem[]> {
    const problems: FieldProblem[] = [];
    for (const need of needs) {
        const d = await client.describe(need.object);
        if (!d) {
            problems.push({ ...need, problem: 'object missing' });
            continue;
        }
        const f = d.fields.find(
            (x) => x.name.toLowerCase() === need.field.toLowerCase()
        );
        const access = need.access ?? 'update';
        if (!f) problems.push({ ...need, problem: 'field missing' });
        else if ((access === 'update' || access === 'upsert') && !f.updateable)
            problems.push({ ...need, problem: 'not updateable' });
        else if ((access === 'create' || access === 'upsert') && !f.createable)
            problems.push({ ...need, problem: 'not createable' });
    }
    return problems.map(({ object, field, problem }) => ({
        object,
        field,
        problem
    }));
}

/** Throws R7's error when any needed field is missing or read-only. */
export async function requireWritableFields(
    client: OrgClient,
    needs: readonly FieldNeed[]
): Promise<void> {
    const problems = await findFieldProblems(client, needs);
    if (problems.length === 0) return;
    const seen = new Set<string>();
    const parts: string[] = [];
    for (const p of problems) {
        const name =
            p.problem === 'object missing'
                ? p.object
                : `${p.object}.${p.field}`;
        const text =
            p.problem === 'object missing'
                ? `the object ${p.object} does not exist`
                : p.problem === 'field missing'
                  ? `the field ${name} does not exist`
                  : `the field ${name} is ${p.problem} for this user`;
        if (!seen.has(text)) {
            seen.add(text);
            parts.push(text);
        }
    }
    const missing = problems.some((p) => p.problem.endsWith('missing'));
    throw new OptoutError(
        missing ? 'FIELD_NOT_INSTALLED' : 'FIELD_NOT_WRITABLE',
        `Nothing was written: in ${client.targetOrg}, ${parts.join('; ')}.`,
        { actions: deployActions(client.targetOrg) }
    );
}
