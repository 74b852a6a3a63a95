/**
 * The Salesforce adapter: one org (`openOrg`), counted and budgeted requests, reads,
 * writes, Composite requests (composite.ts), describe checks (R7), the sync settings,
 * and the package deploy (`deployPackage`, deploy.ts: source-deploy-retrieve loads only
 * when it deploys). See client.ts.
 */
export * from './client';
export * from './errors';
export * from './describe';
export * from './settings';
export * from './policy';
export { openOrg, resolveBudgetShare, LOCAL_TARGET } from './open';
export type { OpenOrgOptions } from './open';
export { RequestMeter, parseLimitInfo } from './meter';
export type { ApiUsage } from './meter';
export { bulkQuery, bulkWrite, parseBulkError, parseCsv, toCsv } from './bulk';
export {
    composite,
    checkSubrequests,
    isCollectionOrQuery,
    refusedBeforeRunning,
    COMPOSITE_MAX_SUBREQUESTS,
    COMPOSITE_MAX_COLLECTION_OR_QUERY
} from './composite';
export type {
    CompositeSubrequest,
    CompositeSubresult,
    CompositeResult,
    CompositeOptions,
    CompositeError
} from './composite';
export {
    packInQueries,
    soqlQuote,
    encodedLength,
    MAX_ENCODED_QUERY
} from './soql';
export {
    deployPackage,
    checkDeployOptions,
    assignPermissionSet,
    packageTestClasses
} from './deploy';
export type {
    DeployPackageOptions,
    DeployHooks,
    DeployProgress
} from './deploy';
export * from './deploy-report';
export * from './deploy-plan';
