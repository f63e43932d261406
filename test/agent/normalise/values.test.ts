/** The encoding-bridging accessors: RFC 3339 parsing must equal the protobuf Timestamp path. */
import t from 'tap';
import { fieldInt, fieldText, rfc3339ToMs, timestampToMs, unwrapBool, unwrapU32 } from '../../../agent/normalise/values.js';

t.test('rfc3339ToMs agrees with Date.parse, truncating to ms', async (t) => {
  const cases = [
    '2022-10-18T03:16:18Z',
    '2022-10-18T03:16:18.2Z',
    '2022-10-18T03:16:18.273Z',
    '2022-10-18T03:16:18.273546829Z',
    '2021-01-11T23:46:19.82302759Z',
    '2024-02-29T23:59:59.999999999Z',
    '2024-03-01T01:00:00.5+02:00',
    '2024-03-01T01:00:00-05:30',
  ];
  for (const c of cases) {
    const m = /\.(\d+)/.exec(c);
    const truncated = m ? c.replace(m[0], '.' + (m[1] + '00').slice(0, 3)) : c;
    t.equal(rfc3339ToMs(c), Date.parse(truncated), c);
  }
  for (const bad of ['', '2022-10-18', '2022-10-18 03:16:18Z', '2022-13-18T03:16:18Z', '2022-10-18T03:16:18', '2022-10-18T03:16:18.Z', '2022-10-18T03:16:18Zjunk', 'x'.repeat(30)]) {
    t.ok(Number.isNaN(rfc3339ToMs(bad)), `rejects ${JSON.stringify(bad)}`);
  }
});

t.test('timestamps, wrappers and Falco fields read alike in both encodings', async (t) => {
  t.equal(timestampToMs('2023-05-25T13:44:05.478445995Z'), timestampToMs({ seconds: 1685022245, nanos: 478445995 }));
  t.equal(timestampToMs({ seconds: { toNumber: () => 1685022245, toString: () => '1685022245' }, nanos: 1 }), 1685022245000);
  t.equal(timestampToMs(null), null);
  t.equal(unwrapU32(0), 0, 'protojson 0 is root, present');
  t.equal(unwrapU32({}), 0, 'a set wrapper holding 0 decodes as an empty message');
  t.equal(unwrapU32(undefined), null, 'absent = unknown');
  t.equal(unwrapBool({}), false);
  t.equal(unwrapBool(true), true);
  t.equal(fieldText('<NA>'), null);
  t.equal(fieldText(null), null);
  t.equal(fieldInt('443'), 443);
  t.equal(fieldInt(443), 443);
  t.equal(fieldInt('<NA>'), null);
  t.equal(fieldInt('-1'), -1);
});
