"""jsonschema, imported without the IRI grammar it would compile at import.

jsonschema tries a few optional packages at import, one per string format it can check. One of
them, `rfc3987_syntax` (checks for the formats "iri" and "iri-reference"), builds its Lark parser
when imported: about 1.5 s of CPU, in every process that imports jsonschema, which nbformat does
(and so nbclient and nbconvert, the `notebook` command's libraries). It is installed with the
`notebook` extra, for the Jupyter server (`jsonschema[format-nongpl]`, required by jupyter-events).

Nothing here checks those formats: nbformat validates notebooks with no format checker at all, and
its schemas use no "format" keyword (nor do this project's response schema or Harness's OpenAPI
spec, which the tests validate against). So `import_jsonschema` makes that one optional import fail
the documented way, a `None` entry in `sys.modules` (an import of it raises ImportError; see
https://docs.python.org/3/reference/import.html#the-module-cache), which jsonschema catches like a
package that is not installed. What is lost, in this process only: jsonschema's FormatChecker
does not know "iri" and "iri-reference" (it accepts any string for them, as without the package).
The entry is removed afterwards, so `rfc3987_syntax` itself stays importable; the Jupyter server,
which `make notebook` starts in a process of its own, is unaffected.

    >>> jsonschema = import_jsonschema()
    >>> import nbformat  # now without the grammar
"""

from __future__ import annotations

import sys
from types import ModuleType

IRI_GRAMMAR = "rfc3987_syntax"


def import_jsonschema() -> ModuleType:
    """jsonschema, imported without `rfc3987_syntax` unless it or that package is imported already.

    Call it before anything else imports jsonschema: nbformat, nbclient, nbconvert.
    """
    if "jsonschema" not in sys.modules and IRI_GRAMMAR not in sys.modules:
        sys.modules[IRI_GRAMMAR] = None  # type: ignore[assignment]
        try:
            import jsonschema
        finally:
            del sys.modules[IRI_GRAMMAR]
    import jsonschema

    return jsonschema
