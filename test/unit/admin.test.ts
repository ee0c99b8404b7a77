import type http from 'node:http';
import { mayChange } from '../../src/admin/server';
import { log, LogBudget } from '../../src/common/log';

const req = (remoteAddress: string, authorization?: string) =>
  ({ headers: authorization ? { authorization } : {}, socket: { remoteAddress } }) as unknown as Pick<http.IncomingMessage, 'headers' | 'socket'>;

describe('who may call the admin endpoints that change something', () => {
  it('without a token: only a caller on this host', () => {
    expect(mayChange(req('127.0.0.1'), undefined)).toBe(true);
    expect(mayChange(req('::1'), undefined)).toBe(true);
    expect(mayChange(req('::ffff:127.0.0.1'), undefined)).toBe(true);
    expect(mayChange(req('10.1.2.3'), undefined)).toBe(false);
    expect(mayChange(req('::ffff:10.1.2.3', 'Bearer anything'), undefined)).toBe(false);
  });

  it('with a token: whoever carries it, and nobody else, not even on this host', () => {
    expect(mayChange(req('10.1.2.3', 'Bearer s3cret'), 's3cret')).toBe(true);
    expect(mayChange(req('127.0.0.1'), 's3cret')).toBe(false);
    expect(mayChange(req('10.1.2.3', 'Bearer s3cre'), 's3cret')).toBe(false);
    expect(mayChange(req('10.1.2.3', 's3cret'), 's3cret')).toBe(false);
  });
});

describe('LogBudget', () => {
  it('lets a few lines of a kind through per window, then says how many it left out', () => {
    const warn = jest.spyOn(log, 'warn').mockImplementation(() => log);
    const budget = new LogBudget('xds stream opened or closed', 3, 1000);
    const allowed = Array.from({ length: 10 }, (_, i) => budget.allow(i)).filter(Boolean).length;
    expect(allowed).toBe(3);
    expect(budget.allow(1500)).toBe(true);
    expect(warn).toHaveBeenCalledWith('log lines left out', { event: 'xds stream opened or closed', count: 7, windowMs: 1000 });
    warn.mockRestore();
  });
});
