"""Deterministic datasets: the `default` scenario (two accounts full of traps) and `bench`.

Every registry draws from its own RNG seeded with the scenario seed and the registry path, so
the same seed always yields the same data, and adding a registry does not change the others.

Times are counted back from the dataset's anchor (midnight UTC of the day the emulator starts,
see `Dataset`), so the data is always recent: registries created about three years ago, artifacts
over the two and a half years after that, new versions pushed until the last hours before the
anchor, a few registries idle for months, and a few artifacts with Go's zero time.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .dataset import (
    DAY_MS,
    GO_ZERO_TIME_MS,
    HUGGINGFACE,
    Artifact,
    Dataset,
    LazyArtifacts,
    Registry,
)
from .versions import QUARANTINE_REASONS, Version, digest, exact_size

# A floor below every seeded creation time (those are relative, see `SeedCalendar`); mutations
# fall back on it for a registry that has no artifacts yet.
CREATED_FROM_MS = 1577836800000  # 2020-01-01T00:00:00Z


@dataclass(frozen=True)
class SeedCalendar:
    """The windows seeded times are drawn from, counted back from the dataset's anchor.

    Registries are created first (weekly, from `registries_created_from_ms`), then artifacts
    (between `created_from_ms` and `created_until_ms`); new versions land until just before the
    anchor, so some artifacts always changed in the last days.
    """

    anchor_ms: int

    @property
    def registries_created_from_ms(self) -> int:
        return self.anchor_ms - 1000 * DAY_MS

    @property
    def created_from_ms(self) -> int:
        return self.anchor_ms - 880 * DAY_MS

    @property
    def created_until_ms(self) -> int:
        return self.anchor_ms - 365 * DAY_MS

    def updated_until_ms(self, idle_days: int = 0) -> int:
        """The end (exclusive) of a registry's updates: the anchor, or `idle_days` before it."""
        return self.anchor_ms - idle_days * DAY_MS


WORDS = (
    "alpha", "beacon", "cedar", "delta", "ember", "falcon", "garnet", "harbor", "iris",
    "juniper", "kestrel", "lumen", "maple", "nova", "onyx", "pioneer", "quartz", "raven",
    "sierra", "tundra", "umber", "vertex", "willow", "xenon", "yarrow", "zephyr",
)  # fmt: skip
KINDS = ("client", "core", "utils", "sdk", "cli", "server", "schemas", "plugins", "auth", "metrics")
DOCKER_TEAMS = ("team", "platform", "data", "ml", "web", "infra")
LABEL_POOL = (
    "prod", "staging", "dev", "team-a", "team-b", "deprecated", "critical", "ml", "internal", "beta",
)  # fmt: skip

LONG_NAME = ("long-name-" + "abcdefghijklmnopqrstuvwxyz0123456789" * 6)[:200]
LONG_LABEL = ("long-label-" + "zyxwvutsrqponmlkjihgfedcba9876543210" * 6)[:200]
# Names and labels that break naive quoting, CSV, SQL, URL and path handling.
HOSTILE_NAMES = (
    "it's-a-file.txt",
    'say "hello".bin',
    "semi;colon;separated.tar.gz",
    "reports/2024/q1/summary.pdf",
    "comma,separated,values.csv",
    "données-é-中文",
    "R&D <draft> notes.txt",
    LONG_NAME,
)
HOSTILE_LABELS = ("it's", 'say "hi"', "a;b", "path/like", "one,two", "données-é-中文", LONG_LABEL)


@dataclass(frozen=True)
class RegistryPlan:
    """What to generate for one registry."""

    path: str
    package_type: str
    artifact_count: int
    registry_type: str = "VIRTUAL"
    forbidden: bool = False
    deleted: bool = False
    description: str = ""
    labels: tuple[str, ...] | None = None
    # Names that must exist, as (name, artifact_type); generated names fill the rest.
    fixed_names: tuple[tuple[str, str | None], ...] = ()
    zero_time_artifacts: int = 0
    # Soft-deleted artifacts, on top of artifact_count: present in storage, never listed.
    deleted_artifacts: int = 0
    hostile_labels: bool = False
    # Days before the anchor since the last push: a registry nobody has touched for a while.
    idle_days: int = 0
    # (name, count): artifacts given `count` versions, more than one page at size 10.
    many_versions: tuple[tuple[str, int], ...] = ()
    # Artifacts whose oldest version has two quarantine records, so it is listed twice.
    doubled_quarantine: tuple[str, ...] = ()


DEFAULT_PLANS = (
    RegistryPlan(
        "acme/shared-docker",
        "DOCKER",
        40,
        description="Shared container images",
        labels=("shared", "docker"),
        fixed_names=(("team/app", None),),
        zero_time_artifacts=2,
        deleted_artifacts=2,
        many_versions=(("team/app", 14),),
    ),
    RegistryPlan(
        "acme/generic-files",
        "GENERIC",
        24,
        description="Files with awkward names",
        fixed_names=tuple((name, None) for name in HOSTILE_NAMES),
        zero_time_artifacts=1,
        hostile_labels=True,
        many_versions=(('say "hello".bin', 12),),
        doubled_quarantine=("données-é-中文", "reports/2024/q1/summary.pdf"),
    ),
    RegistryPlan("acme/platform/maven-libs", "MAVEN", 30, zero_time_artifacts=1),
    RegistryPlan("acme/platform/helm-charts", "HELM", 14, labels=("charts",)),
    RegistryPlan("acme/platform/locked", "NPM", 6, forbidden=True, description="No access"),
    RegistryPlan(
        "acme/data/pypi",
        "PYTHON",
        230,
        description="Internal Python packages",
        fixed_names=(("Acme-Toolkit", None), ("AcmeCore", None)),
        zero_time_artifacts=2,
        deleted_artifacts=3,
        many_versions=(("Acme-Toolkit", 23),),
        doubled_quarantine=("Acme-Toolkit", "AcmeCore"),
    ),
    RegistryPlan("acme/data/pypi-upstream", "PYTHON", 7, registry_type="UPSTREAM", idle_days=75),
    RegistryPlan("acme/platform/web/npm-web", "NPM", 35),
    RegistryPlan("acme/platform/web/docker-web", "DOCKER", 12),
    RegistryPlan("acme/platform/web/old-reg", "NPM", 9, deleted=True),
    RegistryPlan(
        "acme/data/ml/hf-models",
        HUGGINGFACE,
        18,
        # Hugging Face names are unique only together with the artifact type.
        fixed_names=(("acme/support-tickets", "model"), ("acme/support-tickets", "dataset")),
        many_versions=(("acme/support-tickets", 11),),
    ),
    RegistryPlan("acme/data/ml/conda", "CONDA", 16),
    RegistryPlan("acme/data/ml/empty-reg", "RAW", 0, description="Nothing here yet"),
    RegistryPlan("globex/releases", "GENERIC", 12, labels=("releases",), idle_days=150),
    RegistryPlan("globex/ops/infra-images", "DOCKER", 8),
)
DEFAULT_SPACES = (
    "acme/platform/web",
    "acme/data/ml",
    "globex/ops",
)

BENCH_PACKAGE_TYPES = ("DOCKER", "PYTHON", "HELM", "NPM", "GENERIC", "MAVEN", "CONDA", "NUGET")
BENCH_VERSIONS = tuple(f"1.{minor}.{patch}" for minor in range(4) for patch in range(10))
BENCH_LABELS: tuple[tuple[str, ...] | None, ...] = (None, (), ("bench",), ("bench", "hot"))
# The most versions a deep bench artifact has (see `build_bench`'s `deep_every`).
DEFAULT_BENCH_DEEP_VERSIONS = 200


def build_dataset(
    scenario: str,
    seed: int,
    *,
    bench_registries: int = 8,
    bench_artifacts: int = 8000,
    bench_versions: int | None = None,
    bench_zero_time: bool = False,
    bench_deep_every: int = 0,
    bench_deep_versions: int = DEFAULT_BENCH_DEEP_VERSIONS,
    anchor_ms: int | None = None,
) -> Dataset:
    """Build the named scenario; seeded times end before `anchor_ms` (default: today, 00:00 UTC)."""
    if scenario == "default":
        return build_default(seed, anchor_ms)
    if scenario == "bench":
        return build_bench(
            seed,
            registries=bench_registries,
            artifacts=bench_artifacts,
            versions=bench_versions,
            zero_time=bench_zero_time,
            deep_every=bench_deep_every,
            deep_versions=bench_deep_versions,
            anchor_ms=anchor_ms,
        )
    raise ValueError(f"unknown scenario: {scenario!r} (expected 'default' or 'bench')")


def build_default(seed: int, anchor_ms: int | None = None) -> Dataset:
    """Accounts `acme` and `globex`, registries at every scope and of many package types."""
    dataset = Dataset(seed, anchor_ms)
    for space in DEFAULT_SPACES:
        dataset.add_space(space)
    for index, plan in enumerate(DEFAULT_PLANS):
        add_planned_registry(dataset, plan, index)
    return dataset


def add_planned_registry(dataset: Dataset, plan: RegistryPlan, index: int) -> Registry:
    """Create the registry a plan describes, with its artifacts, and add it to the dataset."""
    rng = random.Random(f"{dataset.seed}:{plan.path}")
    dataset.add_space(plan.path.rsplit("/", 1)[0])
    calendar = SeedCalendar(dataset.anchor_ms)
    created_ms = calendar.registries_created_from_ms + index * 7 * DAY_MS + rng.randrange(DAY_MS)
    registry = Registry(
        path=plan.path,
        package_type=plan.package_type,
        uuid=dataset.registry_uuid(plan.path),
        created_ms=created_ms,
        updated_ms=created_ms + rng.randrange(400 * DAY_MS),
        registry_type=plan.registry_type,
        size_bytes=rng.randrange(1, 50 * 1024**3) if plan.artifact_count else 0,
        labels=plan.labels,
        description=plan.description,
        forbidden=plan.forbidden,
        deleted=plan.deleted,
    )
    dataset.registries[plan.path] = registry
    registry.artifacts = generate_artifacts(
        dataset,
        registry,
        plan.artifact_count + plan.deleted_artifacts,
        rng,
        fixed_names=plan.fixed_names,
        hostile_labels=plan.hostile_labels,
        idle_days=plan.idle_days,
    )
    by_name = {artifact.name: artifact for artifact in registry.artifacts}
    for name, count in plan.many_versions:
        _add_older_versions(dataset, registry, by_name[name], count)
    for name in plan.doubled_quarantine:
        oldest = by_name[name].versions[0]  # type: ignore[index]  # seeded up front
        oldest.quarantine_reasons = QUARANTINE_REASONS[:2]
    for artifact in rng.sample(registry.artifacts, plan.zero_time_artifacts):
        # The artifact lost its times, and so did every one of its versions.
        artifact.last_modified_ms = GO_ZERO_TIME_MS
        for version in artifact.versions or ():
            version.updated_ms = GO_ZERO_TIME_MS
    fixed = {name for name, _ in plan.fixed_names}
    deletable = [artifact for artifact in registry.artifacts if artifact.name not in fixed]
    for artifact in rng.sample(deletable, plan.deleted_artifacts):
        artifact.deleted = True
    return registry


def generate_artifacts(
    dataset: Dataset,
    registry: Registry,
    count: int,
    rng: random.Random,
    *,
    fixed_names: Sequence[tuple[str, str | None]] = (),
    hostile_labels: bool = False,
    created_after_ms: int | None = None,
    idle_days: int = 0,
) -> list[Artifact]:
    """`count` artifacts in creation order, with realistic versions, times, labels and counts.

    Created after `created_after_ms` (default: the calendar's start), updated until `idle_days`
    before the dataset's anchor.
    """
    calendar = SeedCalendar(dataset.anchor_ms)
    names = list(fixed_names) + _generated_names(
        rng, registry.package_type, count - len(fixed_names), taken={n for n, _ in fixed_names}
    )
    rng.shuffle(names)
    if created_after_ms is None:
        created_after_ms = calendar.created_from_ms
    created_until = max(calendar.created_until_ms, created_after_ms + count + 1)
    creation_times = sorted(rng.sample(range(created_after_ms + 1, created_until), count))
    updated_until = calendar.updated_until_ms(idle_days)
    artifacts = []
    for (name, artifact_type), created_ms in zip(names, creation_times, strict=True):
        artifact = _generate_artifact(
            dataset, registry, rng, name, artifact_type, created_ms, updated_until
        )
        if hostile_labels and name in HOSTILE_NAMES:
            artifact.labels = _hostile_labels(HOSTILE_NAMES.index(name))
        artifacts.append(artifact)
    return artifacts


def _hostile_labels(index: int) -> tuple[str, ...]:
    """Spread every hostile label over the hostile names; the long name gets the long label."""
    if HOSTILE_NAMES[index] == LONG_NAME:
        return (LONG_LABEL, "prod")
    count = len(HOSTILE_LABELS)
    return (HOSTILE_LABELS[index % count], HOSTILE_LABELS[(index + 3) % count])


def _generate_artifact(
    dataset: Dataset,
    registry: Registry,
    rng: random.Random,
    name: str,
    artifact_type: str | None,
    created_ms: int,
    updated_until_ms: int,
) -> Artifact:
    version_count = rng.randint(1, 6)
    # The first version is pushed when the artifact is created; every update time is distinct.
    updated_until_ms = max(updated_until_ms, created_ms + version_count)
    later_updates = rng.sample(range(created_ms + 1, updated_until_ms), version_count - 1)
    update_times = [created_ms, *sorted(later_updates)]
    versions = _version_names(rng, registry.package_type, version_count)
    latest_version = versions[-1]
    if version_count > 1 and rng.random() < 0.25:
        # A backport pushed last: the latest version is not the highest one.
        latest_version = versions[rng.randrange(version_count - 1)]
    artifact = Artifact(
        aid=dataset.next_artifact_id(),
        name=name,
        artifact_type=artifact_type,
        created_ms=created_ms,
        updated_ms=_own_update_time(rng, update_times, updated_until_ms),
        latest_version=latest_version,
        last_modified_ms=update_times[-1],
        version_count=version_count,
        downloads=0 if rng.random() < 0.2 else int(rng.expovariate(1 / 400)),
        quarantined=rng.random() < 0.08,
        labels=_labels(rng),
    )
    _seed_versions(dataset, registry, artifact, versions, update_times)
    return artifact


def _version_rng(dataset: Dataset, registry: Registry, artifact: Artifact) -> random.Random:
    """A stream of its own, so that versions do not shift any other seeded value."""
    return random.Random(
        f"{dataset.seed}:{registry.path}:{artifact.name}:{artifact.artifact_type}:versions"
    )


def _seed_versions(
    dataset: Dataset,
    registry: Registry,
    artifact: Artifact,
    names: list[str],
    update_times: list[int],
) -> None:
    """The versions behind an artifact's row: the latest one pushed last, at its lastModified.

    A few older versions have Go's zero time, some are quarantined (a few non-tag versions
    with two records), and some Docker images have untagged digests besides their tags.
    """
    rng = _version_rng(dataset, registry, artifact)
    tag_based = registry.tag_based
    pushed = [name for name in names if name != artifact.latest_version]
    versions = []
    for name, time_ms in zip([*pushed, artifact.latest_version], update_times, strict=True):
        versions.append(_seeded_version(rng, name, time_ms, tag_based))
    for version in versions[:-1]:
        if rng.random() < 0.04:
            version.updated_ms = GO_ZERO_TIME_MS
    for version in versions:
        roll = rng.random()
        if roll < 0.02 and not tag_based:
            version.quarantine_reasons = tuple(rng.sample(QUARANTINE_REASONS, 2))
        elif roll < 0.07:
            version.quarantine_reasons = (rng.choice(QUARANTINE_REASONS),)
    if artifact.quarantined and not versions[-1].quarantine_reasons:
        versions[-1].quarantine_reasons = (rng.choice(QUARANTINE_REASONS),)
    newest = update_times[-1]
    if registry.package_type == "DOCKER" and newest > artifact.created_ms and rng.random() < 0.25:
        for _ in range(rng.randint(1, 2)):
            # Untagged images are older than the newest tag, which stays the latest version.
            pushed_ms = rng.randrange(artifact.created_ms, newest)
            untagged = _seeded_version(rng, digest(rng), pushed_ms, tag_based)
            untagged.untagged = True
            versions.append(untagged)
        versions.sort(key=lambda version: version.created_ms)
    artifact.versions = versions
    artifact.version_count = len(versions)


def _seeded_version(rng: random.Random, name: str, time_ms: int, tag_based: bool) -> Version:
    return Version(
        name=name,
        created_ms=time_ms,
        updated_ms=time_ms,
        size_bytes=0 if rng.random() < 0.03 else exact_size(rng),
        file_count=1 if tag_based else rng.randint(1, 4),
        downloads=0 if rng.random() < 0.3 else int(rng.expovariate(1 / 150)),
        digest_count=rng.choice((1, 1, 1, 2, 3)) if tag_based else 1,
    )


def _add_older_versions(
    dataset: Dataset, registry: Registry, artifact: Artifact, count: int
) -> None:
    """Pre-releases pushed between the artifact's first and newest versions, up to `count`."""
    assert artifact.versions is not None  # seeded up front
    rng = random.Random(
        f"{dataset.seed}:{registry.path}:{artifact.name}:{artifact.artifact_type}:more-versions"
    )
    first, newest = artifact.versions[0], max(v.created_ms for v in artifact.versions)
    taken = {version.created_ms for version in artifact.versions}
    extra = count - len(artifact.versions)
    # Draw a few spare times, then drop any that an existing version already has.
    drawn = rng.sample(range(first.created_ms + 1, newest), extra + len(taken))
    free = [pushed_ms for pushed_ms in drawn if pushed_ms not in taken][:extra]
    for index, pushed_ms in enumerate(sorted(free), start=1):
        artifact.versions.append(
            _seeded_version(rng, f"{first.name}-rc.{index}", pushed_ms, registry.tag_based)
        )
    artifact.versions.sort(key=lambda version: version.created_ms)
    artifact.version_count = len(artifact.versions)


def _own_update_time(rng: random.Random, update_times: list[int], until_ms: int) -> int:
    """The artifact row's update time, which is usually not its newest version's time."""
    roll = rng.random()
    if roll < 0.55:
        return update_times[0]
    if roll < 0.85:
        return rng.choice(update_times)
    # Metadata edited after the last push, but not after `until_ms` (seeded times are past).
    return min(
        update_times[-1] + rng.randrange(1, 90 * DAY_MS), max(until_ms - 1, update_times[-1])
    )


def _labels(rng: random.Random) -> tuple[str, ...] | None:
    roll = rng.random()
    if roll < 0.18:
        return None
    if roll < 0.33:
        return ()
    return tuple(rng.sample(LABEL_POOL, rng.randint(1, 3)))


def _version_names(rng: random.Random, package_type: str, count: int) -> list[str]:
    """`count` distinct versions in ascending order, in the style of the package type."""
    if package_type == HUGGINGFACE:
        return [f"{rng.getrandbits(160):040x}" for _ in range(count)]
    major, minor, patch = rng.randint(0, 3), rng.randint(0, 9), rng.randint(0, 9)
    versions = []
    for _ in range(count):
        versions.append(f"{major}.{minor}.{patch}")
        roll = rng.random()
        if roll < 0.7:
            patch += 1
        elif roll < 0.95:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    if package_type == "DOCKER":
        versions = [f"v{version}" for version in versions]
        if count > 1 and rng.random() < 0.3:
            versions[-1] = "latest"
    elif package_type == "MAVEN" and rng.random() < 0.2:
        versions[-1] += "-SNAPSHOT"
    return versions


def _generated_names(
    rng: random.Random, package_type: str, count: int, taken: set[str]
) -> list[tuple[str, str | None]]:
    if count <= 0:
        return []
    pool = [name for name in _candidate_names(package_type) if name not in taken]
    if count <= len(pool):
        names = rng.sample(pool, count)
    else:
        names = pool + [
            f"{package_type.lower()}-artifact-{i:05d}" for i in range(count - len(pool))
        ]
    if package_type == HUGGINGFACE:
        return [(name, rng.choice(("model", "dataset"))) for name in names]
    return [(name, None) for name in names]


def _candidate_names(package_type: str) -> list[str]:
    pairs = [(word, kind) for word in WORDS for kind in KINDS]
    formats = {
        "DOCKER": [f"{team}/{word}" for team in DOCKER_TEAMS for word in WORDS],
        "PYTHON": [f"acme-{w}-{k}" for w, k in pairs],
        "NPM": [f"@acme/{w}-{k}" if i % 3 else f"{w}-{k}" for i, (w, k) in enumerate(pairs)],
        "MAVEN": [f"com.acme.{w}:{w}-{k}" for w, k in pairs],
        "GENERIC": [f"{w}-{k}.tar.gz" for w, k in pairs],
        "RAW": [f"{w}-{k}.bin" for w, k in pairs],
        HUGGINGFACE: [f"acme/{w}-{k}" for w, k in pairs],
    }
    return formats.get(package_type, [f"{w}-{k}" for w, k in pairs])


# Generated bench artifacts kept in memory at most (see `LazyArtifacts`): about 40 MiB.
BENCH_RESIDENT_ARTIFACTS = 200_000


def build_bench(
    seed: int,
    *,
    registries: int = 8,
    artifacts: int = 8000,
    versions: int | None = None,
    zero_time: bool = False,
    deep_every: int = 0,
    deep_versions: int = DEFAULT_BENCH_DEEP_VERSIONS,
    anchor_ms: int | None = None,
    resident_artifacts: int = BENCH_RESIDENT_ARTIFACTS,
) -> Dataset:
    """Account `bench`: `registries` registries sharing `artifacts` artifacts evenly.

    Each registry's artifacts are generated when first read, from their own RNG, with a tight
    loop and shared label/version values, and at most `resident_artifacts` of them stay in
    memory (`LazyArtifacts`): a million artifacts in 2,000 registries start in well under a
    second and a few tens of MiB. Every artifact has `versions` versions (default: 1 to 4),
    generated only when first read (`Dataset.versions_of`). With `zero_time` every artifact's
    lastModified is Go's zero time, as the open-source server can report.

    With `deep_every` N > 0, one artifact in N (the N-th, the 2N-th...) has many versions
    instead, so that its version list spans several pages: a quarter, a half, three quarters
    or all of `deep_versions`, in turn (50, 100, 150, 200 by default: 1 to 4 pages of 50).
    """
    if registries < 1 or artifacts < 0:
        raise ValueError("bench needs at least one registry and a non-negative artifact count")
    if versions is not None and versions < 1:
        raise ValueError("bench artifacts need at least one version each")
    if deep_every < 0 or deep_versions < 1:
        raise ValueError("bench deep versions need a non-negative stride and at least 1 version")
    dataset = Dataset(seed, anchor_ms)
    dataset.add_space("bench")
    calendar = SeedCalendar(dataset.anchor_ms)
    rng = random.Random(f"{seed}:bench")
    generator = BenchGenerator(dataset, calendar, versions, zero_time, deep_every, deep_versions)
    lazy = LazyArtifacts(generator.artifacts, generator.figures, resident_artifacts)
    per_registry, remainder = divmod(artifacts, registries)
    first_aid = dataset.reserve_artifact_ids(artifacts)
    for index in range(registries):
        package_type = BENCH_PACKAGE_TYPES[index % len(BENCH_PACKAGE_TYPES)]
        path = f"bench/reg-{index:03d}-{package_type.lower()}"
        created_ms = calendar.registries_created_from_ms + index * DAY_MS
        registry = Registry(
            path=path,
            package_type=package_type,
            uuid=dataset.registry_uuid(path),
            created_ms=created_ms,
            updated_ms=created_ms + DAY_MS,
            size_bytes=rng.randrange(1, 100 * 1024**3),
            lazy=lazy,
        )
        count = per_registry + (1 if index < remainder else 0)
        generator.plan(path, count, first_aid, downloads_offset=rng.randrange(1000))
        first_aid += count
        dataset.registries[path] = registry
    return dataset


@dataclass(frozen=True)
class BenchPlan:
    count: int
    first_aid: int
    downloads_offset: int


class BenchGenerator:
    """The artifacts of each bench registry, generated on demand and the same every time."""

    def __init__(
        self,
        dataset: Dataset,
        calendar: SeedCalendar,
        versions: int | None,
        zero_time: bool,
        deep_every: int = 0,
        deep_versions: int = DEFAULT_BENCH_DEEP_VERSIONS,
    ) -> None:
        self._dataset = dataset
        self._calendar = calendar
        self._versions = versions
        self._zero_time = zero_time
        self._deep_every = deep_every
        self._deep_versions = deep_versions
        self._plans: dict[str, BenchPlan] = {}
        self._figures: dict[str, tuple[int, int]] = {}

    def plan(self, path: str, count: int, first_aid: int, downloads_offset: int) -> None:
        self._plans[path] = BenchPlan(count, first_aid, downloads_offset)

    @staticmethod
    def _downloads(plan: BenchPlan, i: int) -> int:
        # Arithmetic rather than drawn, so that a registry's total is known without generating it.
        return (i * 7919 + plan.downloads_offset) % 1000

    def figures(self, registry: Registry) -> tuple[int, int]:
        """(artifacts, downloads) of a registry that is not in memory: none is soft-deleted."""
        figures = self._figures.get(registry.path)
        if figures is None:
            plan = self._plans[registry.path]
            downloads = sum(self._downloads(plan, i) for i in range(plan.count))
            figures = self._figures[registry.path] = (plan.count, downloads)
        return figures

    def _deep_count(self, i: int) -> int | None:
        """The version count of artifact `i` if it is a deep one: a quarter to all of
        `deep_versions`, in turn (arithmetic, so that no other drawn value shifts)."""
        every = self._deep_every
        if not every or (i + 1) % every:
            return None
        return max(1, self._deep_versions * (1 + (i // every) % 4) // 4)

    def artifacts(self, registry: Registry) -> list[Artifact]:
        plan = self._plans[registry.path]
        rng = random.Random(f"{self._dataset.seed}:bench:{registry.path}")
        prefix = "bench/image-" if registry.tag_based else "bench-pkg-"
        random_fraction = rng.random
        versions = self._versions
        zero_time = self._zero_time
        # One artifact a minute from 400 days before the anchor, each modified within 300 days:
        # 100,000 artifacts a registry would still end before the anchor.
        created_from_ms = self._calendar.anchor_ms - 400 * DAY_MS
        artifacts = []
        for i in range(plan.count):
            created_ms = created_from_ms + i * 60_000 + int(random_fraction() * 59_000)
            updated_ms = created_ms + int(random_fraction() * 30 * DAY_MS)
            last_modified_ms = created_ms + int(random_fraction() * 300 * DAY_MS)
            drawn_versions = 1 + int(random_fraction() * 4)
            artifacts.append(
                Artifact(
                    aid=plan.first_aid + i,
                    name=f"{prefix}{i:06d}",
                    created_ms=created_ms,
                    updated_ms=updated_ms,
                    latest_version=BENCH_VERSIONS[i % len(BENCH_VERSIONS)],
                    last_modified_ms=GO_ZERO_TIME_MS if zero_time else last_modified_ms,
                    # Drawn even when fixed, so that a fixed count changes nothing else.
                    version_count=self._deep_count(i) or versions or drawn_versions,
                    downloads=self._downloads(plan, i),
                    quarantined=i % 53 == 0,
                    labels=BENCH_LABELS[i % len(BENCH_LABELS)],
                )
            )
        return artifacts
