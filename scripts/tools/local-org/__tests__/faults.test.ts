import {
    FaultInjector,
    FaultSpecError,
    formatFaultSpec,
    parseFaultSpec,
    parseLatency
} from '../faults';

describe('fault SPEC', () => {
    it('parses rates, next=N, scopes and latency', () => {
        const spec = parseFaultSpec(
            '503:0.1, lock:0.05, drop:next=3@PATCH|collections, drop-after:next=1, bulkfail:next=1, latency:20-80'
        );
        expect(spec.latency).toEqual({ min: 20, max: 80 });
        expect(spec.rules).toEqual([
            { kind: 'status', status: 503, rate: 0.1, scope: undefined },
            { kind: 'lock', rate: 0.05, scope: undefined },
            { kind: 'drop', next: 3, scope: ['PATCH', 'collections'] },
            { kind: 'drop-after', next: 1, scope: undefined },
            { kind: 'bulkfail', next: 1, scope: undefined }
        ]);
        expect(formatFaultSpec(spec)).toBe(
            '503:0.1,lock:0.05,drop:next=3@PATCH|collections,drop-after:next=1,bulkfail:next=1,latency:20-80'
        );
        expect(parseLatency('50')).toEqual({ min: 50, max: 50 });
    });

    it('parses cut (a streamed body broken partway) and fires it once per next=N', () => {
        const spec = parseFaultSpec('cut:next=1@bulkQueryResults');
        expect(spec.rules).toEqual([
            { kind: 'cut', next: 1, scope: ['bulkQueryResults'] }
        ]);
        expect(formatFaultSpec(spec)).toBe('cut:next=1@bulkQueryResults');
        const f = new FaultInjector(1);
        f.set(spec);
        expect(f.forRequest('bulkQueryResults', 'GET')).toEqual({});
        expect(f.cutsBody('query', 'GET')).toBe(false);
        expect(f.cutsBody('bulkQueryResults', 'GET')).toBe(true);
        expect(f.cutsBody('bulkQueryResults', 'GET')).toBe(false);
        expect(f.injected.cut).toBe(1);
    });

    it('parses the concurrent-request limit (403) and prints it back by name', () => {
        const spec = parseFaultSpec('concurrent:0.2@collections, concurrent');
        expect(spec.rules).toEqual([
            { kind: 'status', status: 403, rate: 0.2, scope: ['collections'] },
            { kind: 'status', status: 403, rate: 1, scope: undefined }
        ]);
        expect(formatFaultSpec(spec)).toBe(
            'concurrent:0.2@collections,concurrent:1'
        );
        const f = new FaultInjector(1);
        f.set(parseFaultSpec('concurrent:next=1'));
        expect(f.forRequest('query', 'GET')).toEqual({ status: 403 });
        expect(f.forRequest('query', 'GET')).toEqual({});
        expect(f.injected).toEqual({ concurrent: 1 });
    });

    it('rejects bad specs with a clear message', () => {
        expect(() => parseFaultSpec('504:2')).toThrow(FaultSpecError);
        expect(() => parseFaultSpec('teapot:0.1')).toThrow(
            /unknown fault 'teapot'/
        );
        expect(() => parseFaultSpec('latency:80-20')).toThrow(/max below min/);
        expect(() => parseFaultSpec('drop:next=x')).toThrow(FaultSpecError);
    });

    it('is reproducible from the seed', () => {
        const run = (seed: number): string => {
            const f = new FaultInjector(seed);
            f.set(parseFaultSpec('503:0.3,lock:0.2,latency:10-90'));
            let out = '';
            for (let i = 0; i < 50; i++) {
                out += `${f.forRequest('query', 'GET').status ?? '-'}${f.lockRecord('collectionsUpdate') ? 'L' : '.'}${f.latencyMs()} `;
            }
            return out;
        };
        expect(run(7)).toBe(run(7));
        expect(run(7)).not.toBe(run(8));
    });

    it('fires next=N rules exactly N times, only on matching requests', () => {
        const f = new FaultInjector(1);
        f.set(parseFaultSpec('500:next=2@collections,drop:next=1@PATCH'));
        expect(f.forRequest('query', 'GET')).toEqual({});
        expect(f.forRequest('collectionsCreate', 'POST')).toEqual({
            status: 500
        });
        expect(f.forRequest('collectionsUpdate', 'PATCH')).toEqual({
            status: 500
        });
        expect(f.forRequest('collectionsUpdate', 'PATCH')).toEqual({
            drop: 'before'
        });
        expect(f.forRequest('collectionsUpdate', 'PATCH')).toEqual({});
        expect(f.injected).toEqual({ '500': 2, 'drop-before': 1 });
    });

    it('draws rates close to the requested probability', () => {
        const f = new FaultInjector(42);
        f.set(parseFaultSpec('lock:0.25'));
        let hits = 0;
        for (let i = 0; i < 4000; i++)
            if (f.lockRecord('bulkIngestinsert')) hits++;
        expect(hits / 4000).toBeGreaterThan(0.22);
        expect(hits / 4000).toBeLessThan(0.28);
    });
});
