/**
 * The part of the official client, @mailchimp/mailchimp_marketing (no types of its own),
 * that the local Mailchimp's tests use. The default export is the ApiClient singleton;
 * `basePath` ('https://server.api.mailchimp.com/3.0', with 'server' replaced by
 * config.server) is overridden to point it at the local server.
 */
declare module '@mailchimp/mailchimp_marketing' {
    type Json = Record<string, unknown>;
    interface MailchimpClient {
        basePath: string;
        setConfig(config: {
            apiKey?: string;
            server?: string;
            accessToken?: string;
        }): void;
        ping: { get(): Promise<Json> };
        root: { getRoot(opts?: Json): Promise<Json> };
        lists: {
            getAllLists(opts?: Json): Promise<Json>;
            getList(listId: string, opts?: Json): Promise<Json>;
            getListMembersInfo(listId: string, opts?: Json): Promise<Json>;
            getListMember(
                listId: string,
                subscriberHash: string,
                opts?: Json
            ): Promise<Json>;
            updateListMember(
                listId: string,
                subscriberHash: string,
                body: Json,
                opts?: Json
            ): Promise<Json>;
            setListMember(
                listId: string,
                subscriberHash: string,
                body: Json,
                opts?: Json
            ): Promise<Json>;
            addListMember(
                listId: string,
                body: Json,
                opts?: Json
            ): Promise<Json>;
            deleteListMember(
                listId: string,
                subscriberHash: string
            ): Promise<Json>;
            createListWebhook(listId: string, body: Json): Promise<Json>;
            getListWebhooks(listId: string): Promise<Json>;
            deleteListWebhook(listId: string, webhookId: string): Promise<Json>;
        };
        batches: {
            start(body: Json): Promise<Json>;
            status(batchId: string, opts?: Json): Promise<Json>;
            list(opts?: Json): Promise<Json>;
        };
    }
    /** What the client rejects with on a non-2xx answer (a superagent error). */
    export interface MailchimpHttpError extends Error {
        status: number;
        response: {
            status: number;
            body: Json;
            headers: Record<string, string>;
        };
    }
    const client: MailchimpClient;
    export default client;
}
