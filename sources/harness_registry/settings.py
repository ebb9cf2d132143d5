"""Constants of the Harness Artifact Registry API and of this source's defaults."""

DEFAULT_BASE_URL = "https://app.harness.io"
API_PREFIX = "/har/api/v1"

# See docs/harness-api.md#addressing.
# `{registry_ref}/+` is the routed form: the server rewrites `a/b/c/+/artifacts` to `a%2Fb%2Fc/artifacts`.
ARTIFACTS_PATH = API_PREFIX + "/registry/{registry_ref}/+/artifacts"
REGISTRIES_PATH = API_PREFIX + "/spaces/{space_ref}/+/registries"
# `{artifact}` is one path segment, percent-encoded whole (`team%2Fapp`): see `lists.ListScans.versions`.
VERSIONS_PATH = API_PREFIX + "/registry/{registry_ref}/+/artifact/{artifact}/+/versions"

DEFAULT_PAGE_SIZE = 100
DEFAULT_CONCURRENCY = 4
# Harness SaaS allows 400 external API calls per minute per key and answers 429 past that.
DEFAULT_REQUESTS_PER_MINUTE = 400

# See docs/harness-api.md#sorting-and-ties.
# Names are unique within a registry (with the artifact type for Hugging Face), so only a name sort
# gives stable offset pages; every other key has ties that the server orders arbitrarily.
STABLE_SORT_FIELD = "name"
DEFAULT_SORT_FIELD = STABLE_SORT_FIELD
DEFAULT_SORT_ORDER = "ASC"
SORT_FIELDS = ("name", "lastModified", "downloadsCount", "repoKey")
SORT_ORDERS = ("ASC", "DESC")
ARTIFACT_TYPES = ("model", "dataset")
MODES = ("incremental", "snapshot")

# Go's zero time.Time in epoch milliseconds: the server's way of saying "unknown".
ZERO_TIME_MS = -62135596800000

# Key of an artifact: registry, name and (Hugging Face only) model/dataset. Never `uuid`, which is
# empty for Docker and Helm registries.
ARTIFACT_PRIMARY_KEY = ("registry_ref", "name", "artifact_type")
REGISTRY_PRIMARY_KEY = "path"
# Key of a version: its artifact's key and the row's `name` (a version, a tag, or an untagged digest).
# Never `uuid`: tags have none, and the open-source server leaves it empty for versions too.
VERSION_PRIMARY_KEY = ("registry_ref", "artifact_name", "artifact_type", "version")

# Separator of the flat `labels_text` column; the exact labels are in `artifacts__labels`.
LABELS_TEXT_SEPARATOR = ", "
# Separator of `tags_text` (a Docker/Helm version's tags) and of the joined reasons of a version
# the server lists once per quarantine record.
TAGS_TEXT_SEPARATOR = ", "
QUARANTINE_REASON_SEPARATOR = "; "

# A 500 with this message is a soft-deleted registry, not a passing fault: retrying cannot help.
DELETED_REGISTRY_MESSAGE = "Failed to find repo"

# Rows handed to dlt per item: large enough to amortise dlt's per-item work, small enough for memory.
ROWS_PER_ITEM = 1000
# A list that raced a concurrent change (a registry's artifacts in snapshot mode, a space's
# registries, an artifact's versions in either mode) is read again, this many times in all.
RACED_READ_ATTEMPTS = 3
