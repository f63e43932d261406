/** The shared sink contract (test/contract/sink.ts), run against every sink type. */
import t from 'tap';
import { SINKS } from '../../../collector/sinks/index.js';
import { baseSinkConfig, httpSinkContract, lineSinkContract, SECRET } from '../../contract/sink.js';

t.test('every registered sink type is covered here', async (t) => {
  t.same(Object.keys(SINKS).sort(), ['alertmanager', 'falco', 'file', 'slack', 'stdout', 'webhook']);
});

t.test('alertmanager', (t) =>
  httpSinkContract(t, { type: 'alertmanager', config: (url) => baseSinkConfig('alertmanager', { urls: [url], headers: { authorization: `Bearer ${SECRET}` } }) }),
);

t.test('webhook', (t) =>
  httpSinkContract(t, { type: 'webhook', config: (url) => baseSinkConfig('webhook', { url: `${url}/hook`, secret: SECRET, headers: { 'x-api-key': `${SECRET}-2` } }) }),
);

t.test('slack', (t) => httpSinkContract(t, { type: 'slack', config: (url) => baseSinkConfig('slack', { url: `${url}/services/T0001/B0001/${SECRET}` }) }));

t.test('falco', (t) => httpSinkContract(t, { type: 'falco', config: (url) => baseSinkConfig('falco', { url: `${url}/?token=${SECRET}` }) }));

t.test('stdout', (t) => lineSinkContract(t, { type: 'stdout', dir: t.testdir() }));

t.test('file', (t) => lineSinkContract(t, { type: 'file', dir: t.testdir() }));
