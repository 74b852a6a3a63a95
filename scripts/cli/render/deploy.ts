/**
 * Text of `optout deploy`: one line on the outcome, the deploy's facts, the components
 * that failed, then one line each on the translations and the permission sets, fitted
 * to the terminal's width.
 */
import {
    MODIFY_ALL_PERMISSION_SET,
    type ComponentFailure,
    type DeployReport
} from '../../salesforce/deploy-report';
import { renderPairs, renderTable, wrapText } from '../table';

/** Free text (a sentence, a hint with a command) wrapped to the width. */
const para = (text: string, columns: number): string =>
    wrapText(text, columns).join('\n');

/** The components the org refused: where and why. */
export function renderFailures(
    failures: readonly ComponentFailure[],
    columns = Infinity
): string {
    return renderTable(
        ['Type', 'Component', 'File', 'Line', 'Problem'],
        failures.map((f) => [
            f.type,
            f.fullName,
            f.filePath,
            f.line,
            f.problem
        ]),
        columns
    );
}

/** The first line: what was deployed where, or that nothing changed. */
function headline(r: DeployReport): string {
    const verb = r.checkOnly ? 'Validated' : 'Deployed';
    return r.status === 'failed' && r.failures.length
        ? `Deploy of ${r.sourceDir} to ${r.targetOrg} failed: ${r.failures.length} component problem(s); nothing was changed.`
        : `${verb} ${r.sourceDir} to ${r.targetOrg}: ${r.numberComponentsDeployed} of ${r.numberComponentsTotal} components.`;
}

/** Deploy id, API, component counts, tests, requests and duration. */
function facts(r: DeployReport, columns: number): string {
    const tests = r.testLevel
        ? `${r.testLevel}${r.runTests.length ? ` (${r.runTests.join(', ')})` : ''}`
        : 'org default';
    return renderPairs(
        [
            ['Deploy id', r.deployId],
            ['API', r.rest ? 'Metadata REST deploy' : 'Metadata SOAP deploy'],
            [
                'Components',
                Object.entries(r.components)
                    .map(([k, n]) => `${k.toLowerCase()} ${n}`)
                    .join(', ')
            ],
            ['Apex tests', `${tests}: ${r.testLevelReason}`],
            ['API requests', r.apiRequests],
            ['Duration', `${(r.durationMs / 1000).toFixed(1)} s`]
        ],
        columns
    );
}

/** The lines after the deploy: translations, permission sets, and the Modify All hint. */
function afterwards(r: DeployReport, columns: number): string[] {
    const parts: string[] = [];
    const t = r.translations;
    if (t && t.status !== 'absent') {
        parts.push(para(t.message, columns));
        if (t.status === 'failed' && t.failures.length)
            parts.push(renderFailures(t.failures, columns));
    }
    if (r.permissionSet) parts.push(para(r.permissionSet.message, columns));
    if (r.modifyAllPermissionSet)
        parts.push(para(r.modifyAllPermissionSet.message, columns));
    else if (r.permissionSet?.assigned)
        parts.push(
            para(
                `Contacts without an Account are private to their owner: if the sync must update them, also assign ${MODIFY_ALL_PERMISSION_SET} (Modify All on Contact and Lead) with optout deploy --modify-all, or: sf org assign permset --name ${MODIFY_ALL_PERMISSION_SET} --target-org ${r.targetOrg}`,
                columns
            )
        );
    return parts;
}

/** The whole `optout deploy` text. */
export function renderDeploy(r: DeployReport, columns = Infinity): string {
    return [
        para(headline(r), columns),
        facts(r, columns),
        ...(r.failures.length ? [renderFailures(r.failures, columns)] : []),
        ...afterwards(r, columns)
    ].join('\n');
}
