"""A Kubernetes API server for the integration tests: kmock's
KubernetesEmulator (get, list, merge-PATCH, watch of any resource), with
what a real API server does and kmock leaves out:

- resourceVersion (one counter, as etcd's) on every object and list, and a
  409 Conflict for a PATCH that names a stale resourceVersion;
- metadata.generation, raised by a change of `spec` (not by `/status`);
- labelSelector and fieldSelector (metadata.name, metadata.namespace) on
  list and watch;
- Bearer authentication: a token other than the current one gets 401;
- scripted faults (`POST /_control/fault`), a token change
  (`POST /_control/token`) and a request log (`GET /_control/log`).

Started by the tests as a child process with the token to accept as its
argument: it prints `PORT <n>` once it listens on 127.0.0.1 and serves until
killed.
"""

import asyncio
import itertools
import sys
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock import action

RESOURCES = ['apps/v1/deployments', 'apps/v1/statefulsets', 'v1/services']


def status(code: int, reason: str, message: str) -> aiohttp.web.Response:
    return aiohttp.web.json_response({
        'apiVersion': 'v1', 'kind': 'Status', 'metadata': {},
        'status': 'Failure', 'code': code, 'reason': reason, 'message': message,
    }, status=code)


def parse_labels(selector: str) -> list[tuple[str, str, str | None]]:
    """Equality-based selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`."""
    terms = []
    for term in filter(None, (t.strip() for t in selector.split(','))):
        if '!=' in term:
            key, value = term.split('!=', 1)
            terms.append(('!=', key.strip(), value.strip()))
        elif '=' in term:
            key, value = term.replace('==', '=').split('=', 1)
            terms.append(('=', key.strip(), value.strip()))
        elif term.startswith('!'):
            terms.append(('!', term[1:].strip(), None))
        else:
            terms.append(('exists', term, None))
    return terms


def matches(obj: dict[str, Any], params: dict[str, str]) -> bool:
    meta = obj.get('metadata', {})
    labels = meta.get('labels') or {}
    for op, key, value in parse_labels(params.get('labelSelector', '')):
        if op == '=' and labels.get(key) != value:
            return False
        if op == '!=' and labels.get(key) == value:
            return False
        if op == 'exists' and key not in labels:
            return False
        if op == '!' and key in labels:
            return False
    for op, key, value in parse_labels(params.get('fieldSelector', '')):
        field = {'metadata.name': meta.get('name'), 'metadata.namespace': meta.get('namespace')}.get(key)
        if (op == '=') != (field == value):
            return False
    return True


@attrs.define(kw_only=True)
class PaastisEmulator(kmock.KubernetesEmulator):
    token: str = 'test-token'
    faults: list[dict[str, Any]] = attrs.field(factory=list)
    log: list[dict[str, Any]] = attrs.field(factory=list)
    versions: Any = attrs.field(factory=lambda: itertools.count(1))
    version: int = 0
    writes: asyncio.Lock = attrs.field(factory=asyncio.Lock)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for resource in RESOURCES:
            self.resources[resource] = {}

    def next_version(self) -> str:
        self.version = next(self.versions)
        return str(self.version)

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        path = request.url.path
        if path.startswith('/_control/'):
            return await self.control(path, request)
        response = await self.guarded(request)
        self.log.append({'method': str(request.method.value).upper(), 'path': path, 'status': response.status})
        return response

    async def guarded(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.headers.get('Authorization') != f'Bearer {self.token}':
            return status(401, 'Unauthorized', 'Unauthorized')
        method = str(request.method.value).upper()
        # A fault names the end of a path: `/deployments/shop` is the object,
        # not its `/status`, which the tests' controller keeps patching.
        for fault in self.faults:
            if fault['times'] > 0 and fault['method'] == method and request.url.path.endswith(fault['path']):
                fault['times'] -= 1
                reason = {409: 'Conflict', 500: 'InternalError'}.get(fault['status'], 'Failure')
                return status(fault['status'], reason, 'scripted failure')
        if request.action not in (action.CREATE, action.UPDATE):
            return await super()._handle(request)
        async with self.writes:
            return await self.write(request)

    async def write(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        data = request.data if isinstance(request.data, dict) else {}
        meta = data.setdefault('metadata', {})
        if request.action == action.CREATE:
            meta['generation'] = 1
            meta.setdefault('uid', f'uid-{self.version + 1}')
            meta['creationTimestamp'] = '2026-01-01T00:00:00Z'
        else:
            key = (request.resource, request.namespace, request.name)
            if key not in self.objects or self.objects[key].deleted:
                return status(404, 'NotFound', f'{request.name} not found')
            current = self.objects[key].raw.get('metadata', {})
            wanted = meta.get('resourceVersion')
            if wanted is not None and wanted != current.get('resourceVersion'):
                return status(409, 'Conflict', 'the object has been modified; please apply your changes '
                                               'to the latest version and try again')
            if 'spec' in data and request.subresource != 'status':
                meta['generation'] = int(current.get('generation', 1)) + 1
        meta['resourceVersion'] = self.next_version()
        return await super()._handle(request)

    async def _serve_list(self, request: kmock.Request) -> Any:
        listed = await super()._serve_list(request)
        listed['items'] = [obj for obj in listed['items'] if matches(obj, request.params)]
        listed['metadata'] = {'resourceVersion': str(self.version)}
        return listed

    async def _serve_watch(self, request: kmock.Request) -> Any:
        async for event in super()._serve_watch(request):
            if not isinstance(event, dict) or matches(event.get('object', {}), request.params):
                yield event

    async def control(self, path: str, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if path == '/_control/token':
            self.token = request.data['token']
        elif path == '/_control/fault':
            self.faults.append(dict(request.data))
        elif path == '/_control/log':
            return aiohttp.web.json_response(self.log)
        else:
            return status(404, 'NotFound', path)
        return aiohttp.web.json_response({})


async def main() -> None:
    token = sys.argv[1] if len(sys.argv) > 1 else 'test-token'
    async with PaastisEmulator(token=token) as emulator, kmock.Server(emulator) as server:
        print(f'PORT {server.port}', flush=True)
        await asyncio.Event().wait()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
