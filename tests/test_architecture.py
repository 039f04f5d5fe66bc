"""The import graph of jaxgan: layers with no way back, and no circles (DEVELOPERS.md, Layout)."""

import ast
import pathlib

import pytest

from jaxgan.data import synthetic

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'jaxgan'

# Each layer may import the layers listed before it, never one after it.
FORBIDDEN = {
  'jaxgan.nets': ('jaxgan.models', 'jaxgan.eval', 'jaxgan.port', 'jaxgan.train_lib', 'jaxgan.data'),
  'jaxgan.models': (
    'jaxgan.eval',
    'jaxgan.port',
    'jaxgan.train_lib',
    'jaxgan.export_lib',
    'jaxgan.benchmark',
    'jaxgan.cli',
  ),
  'jaxgan.port': ('jaxgan.eval', 'jaxgan.train_lib', 'jaxgan.export_lib', 'jaxgan.cli'),
  'jaxgan.eval': ('jaxgan.train_lib', 'jaxgan.export_lib', 'jaxgan.benchmark', 'jaxgan.cli'),
  'jaxgan.data': ('jaxgan.models', 'jaxgan.eval', 'jaxgan.port', 'jaxgan.train_lib'),
}


def _graph():
  """{module: modules of jaxgan it imports}, at module level or inside functions."""
  modules = {}
  for path in PACKAGE.rglob('*.py'):
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    name = '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)
    modules[name] = path
  graph = {}
  for name, path in modules.items():
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Import):
        imported |= {alias.name for alias in node.names}
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ''
        if node.level:
          base = '.'.join([*package.split('.')[: len(package.split('.')) - node.level + 1], base])
        for alias in node.names:
          full = f'{base}.{alias.name}'
          imported.add(full if full in modules else base)
    graph[name] = {m for m in imported if m in modules and m != name}
  return graph


def _cycles(graph):
  """Strongly connected components of more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in graph[v]:
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  for v in graph:
    if v not in index:
      visit(v)
  return found


def test_no_import_circles():
  assert _cycles(_graph()) == []


@pytest.mark.parametrize('layer', sorted(FORBIDDEN))
def test_layers_import_only_downwards(layer):
  wrong = [
    f'{module} imports {target}'
    for module, targets in _graph().items()
    if module == layer or module.startswith(layer + '.')
    for target in targets
    for forbidden in FORBIDDEN[layer]
    if target == forbidden or target.startswith(forbidden + '.')
  ]
  assert not wrong, wrong


def test_eval_names_no_built_in_task():
  # The tasks say how they are scored (data.synthetic.mode_truth, palette); eval only asks.
  names = [*synthetic.TASKS]
  for path in (PACKAGE / 'eval').glob('*.py'):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
        pytest.fail(f'{path.name}:{node.lineno} names the task {node.value!r}')
