import { CallbackUrlPolicy, CallbackUrlRejectedError, isPrivateAddress } from '../../../runtime/src/shared/callback-url-policy';

describe('CallbackUrlPolicy (SSRF)', () => {
  it.each(['127.0.0.1', '10.0.0.8', '172.20.1.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00:ec2::254', '::ffff:127.0.0.1', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', '::ffff:8.8.8.8', 'ff02::1', 'not-an-ip'])(
    'GIVEN %s THEN it is private',
    (address) => expect(isPrivateAddress(address)).toBe(true),
  );

  it.each(['93.184.216.34', '1.1.1.1', '2606:4700:4700::1111', '2a05:d018::1'])('GIVEN %s THEN it is public', (address) =>
    expect(isPrivateAddress(address)).toBe(false),
  );

  const policy = (answers: Record<string, readonly string[]>) =>
    new CallbackUrlPolicy({
      resolver: async (host) => {
        const found = answers[host];
        if (found === undefined) throw new Error('ENOTFOUND');
        return found;
      },
    });

  it('GIVEN a public https host THEN the checked target pins the resolved address', async () => {
    const checked = await policy({ 'hooks.example.com': ['93.184.216.34'] }).check('https://hooks.example.com/x?y=1');
    expect(checked).toMatchObject({ address: '93.184.216.34', family: 4 });
    expect(checked.url.pathname).toBe('/x');
  });

  it.each([
    ['a hostname resolving to the metadata service', 'https://evil.example.com/', /resolves to a private.*169\.254\.169\.254/],
    ['a hostname with one private answer among public ones', 'https://mixed.example.com/', /resolves to a private.*10\.0\.0\.1/],
    ['a name that does not resolve', 'https://nowhere.example.com/', /does not resolve/],
    ['plain http', 'http://hooks.example.com/', /must use https/],
    ['credentials in the URL', 'https://user:pw@hooks.example.com/', /must not contain credentials/],
    ['a decimal loopback literal', 'https://2130706433/', /private, loopback or link-local/],
    ['a bracketed IPv6 loopback', 'https://[::1]/', /private, loopback or link-local/],
    ['an .internal name', 'https://metadata.google.internal/', /internal name/],
    ['a file URL', 'file:///etc/passwd', /must use https/],
  ])('GIVEN %s THEN it is rejected with a reason', async (_what, url, reason) => {
    const p = policy({
      'evil.example.com': ['169.254.169.254'],
      'mixed.example.com': ['93.184.216.34', '10.0.0.1'],
      'hooks.example.com': ['93.184.216.34'],
    });
    const err = await p.check(url).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(CallbackUrlRejectedError);
    expect((err as Error).message).toMatch(reason);
  });

  it('GIVEN an allowHttpHosts entry (tests only) THEN plain http to exactly that host passes, others still fail', async () => {
    const p = new CallbackUrlPolicy({ resolver: async () => ['127.0.0.1'], allowHttpHosts: ['127.0.0.1'] });
    await expect(p.check('http://127.0.0.1:4000/hook')).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(p.check('http://localhost:4000/hook')).rejects.toThrow(/must use https/);
  });
});
