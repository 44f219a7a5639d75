/// Everything the executables read, with its defaults: this file is the one place the
/// defaults live. `Config/postwire.json` spells the same values out (a test keeps them equal), a
/// file named by `POSTWIRE_CONFIG` or `--config` may change any of them, and environment
/// variables override both (see ``ConfigurationLoader``). Secrets are never here: they come from
/// the environment only (see ``Secrets``).
public struct PostwireConfiguration: Codable, Sendable, Equatable {
    public var ingress = IngressSettings()
    public var redis = RedisSettings()
    public var postgres = PostgresSettings()
    public var worker = WorkerSettings()
    public var analytics = AnalyticsSettings()
    public var dispatcher = DispatcherSettings()
    /// One entry per ESP account that may post to the ingress.
    public var sources: [SourceSettings] = [
        SourceSettings(provider: "mailgun", name: "default"),
        SourceSettings(provider: "sendgrid", name: "default"),
    ]

    public init() {}
}

public struct IngressSettings: Codable, Sendable, Equatable {
    /// Address the webhook server binds (`POSTWIRE_INGRESS_HOST`).
    public var host = "0.0.0.0"
    /// Port of the webhook server (`POSTWIRE_INGRESS_PORT`).
    public var port = 8080
    /// Largest request body accepted; larger ones get 413 (`POSTWIRE_INGRESS_MAX_BODY_BYTES`).
    /// SendGrid batches reach 768 KB.
    public var maxBodyBytes = 5 * 1024 * 1024
    /// Seconds a 503 asks the ESP to wait before retrying (`Retry-After`).
    public var retryAfterSeconds = 30
    /// Amazon SES: a directory of pinned SNS signing certificates (named like the certificate
    /// URL's last path component); empty means fetch them from `sns.<region>.amazonaws.com`.
    public var snsCertificateDirectory = ""
    /// CIDR ranges of the proxies or load balancers in front of the ingress: only their
    /// `X-Forwarded-For` is believed when checking a source's `ipAllowlist`
    /// (`POSTWIRE_INGRESS_TRUSTED_PROXIES`, a JSON array).
    public var trustedProxies: [String] = []
    /// The operations port: `/metrics`, `/healthz`, `/readyz` (docs/METRICS.md). 0 lets the system
    /// pick a free port (it is logged); -1 turns it off.
    public var metricsHost = "0.0.0.0"
    public var metricsPort = 9101
    /// What one source may add to the quarantine per hour (entries, and bytes of their bodies).
    /// Beyond it an unreadable request is still answered 422 and counted, but not kept: a replayed
    /// signature block (Mailgun signs no body) cannot fill Redis.
    public var quarantineEntriesPerHour = 10_000
    public var quarantineBytesPerHour = 100 * 1024 * 1024
    /// A connection that sends nothing for this long (an idle keep-alive, a request head that
    /// never completes, a body that stops arriving or an `Expect: 100-continue` never followed
    /// by its body) is closed.
    public var idleTimeoutSeconds = 30
    /// The whole body must arrive within this time, else 408 (a body trickled byte by byte).
    public var bodyTimeoutSeconds = 30
    /// Open webhook connections at most; beyond it new ones wait in the listen backlog. Capped
    /// below the process's open-file limit, so descriptors never run out.
    public var maxConnections = 1000
}

public struct RedisSettings: Codable, Sendable, Equatable {
    /// `standalone` (one server: `host`, `port`), `sentinel` (the master named `masterName`, found
    /// through `sentinels`) or `cluster` (a Redis Cluster found through `clusterNodes`). See
    /// the README, Scaling out.
    public var topology = "standalone"
    public var host = "127.0.0.1"
    public var port = 6379
    /// Cluster nodes to learn the slot map from, `host:port` each (any few; the rest are discovered).
    public var clusterNodes: [String] = []
    /// Sentinels, `host:port` each (port 26379 if left out).
    public var sentinels: [String] = []
    /// The master's name in the sentinels' configuration (`sentinel monitor <name> …`).
    public var masterName = "postwire"
    /// The sentinels' ACL user, if they have one; their password is `POSTWIRE_REDIS_SENTINEL_PASSWORD`.
    public var sentinelUsername = ""
    /// Replicas that must have an append before the ingress answers 2xx (`WAIT`); 0 answers once
    /// the master has it. With 1, a master that dies after the 2xx loses nothing that was
    /// acknowledged, as long as a replica that had it takes over.
    public var replicasToAcknowledge = 0
    /// How long the ingress waits for those replicas; past it the request gets 503 and the ESP retries.
    public var acknowledgeTimeoutMilliseconds = 1000
    /// ACL user name (every node); empty for the default user. The password is `POSTWIRE_REDIS_PASSWORD`.
    public var username = ""
    public var database = 0
    /// Shared connections of the ingress and the CLI; concurrent requests pipeline over them. A
    /// worker opens one per consumer lane (a blocking read holds its connection) and one more.
    public var connections = 4
    public var connectTimeoutMilliseconds = 2000
    public var commandTimeoutMilliseconds = 5000
    /// The stream every accepted event is appended to; with `streamShards` > 1 the prefix of the
    /// shards `postwire:events:{0}` … (see `StreamLayout`).
    public var stream = "postwire:events"
    /// Number of events streams. Each event goes to the shard its provider and event key hash to;
    /// every worker reads all of them. Changing it while entries are pending strands them: drain first.
    public var streamShards = 1
    /// Authentic requests whose events could not be parsed, with the reason.
    public var quarantineStream = "postwire:quarantine"
    /// Entries a worker could not process, with the error.
    public var deadLetterStream = "postwire:dead"
    /// Prefix of the replay-guard keys: the nonces of requests already stored (Mailgun tokens,
    /// Standard Webhooks ids, SNS MessageIds, SendGrid digests), each kept for twice the source's
    /// replay window, at least ten minutes.
    public var replayGuardPrefix = "postwire:seen:"
    /// Prefix of the per-source rate-limit buckets (`postwire:rl:<provider>:<source>`).
    public var rateLimitPrefix = "postwire:rl:"
    /// Prefix of the per-source, per-hour quarantine budget counters (`ingress.quarantine*PerHour`).
    public var quarantineBudgetPrefix = "postwire:qb:"
}

public struct PostgresSettings: Codable, Sendable, Equatable {
    public var host = "127.0.0.1"
    public var port = 5432
    /// The password is `POSTWIRE_POSTGRES_PASSWORD`.
    public var user = "postwire"
    public var database = "postwire"
    /// `disable` or `require`.
    public var tls = "disable"
    /// Connections per worker process.
    public var maxConnections = 4
}

public struct WorkerSettings: Codable, Sendable, Equatable {
    /// The consumer group every worker joins.
    public var group = "postwire-workers"
    /// This worker's consumer name; empty means `<hostname>-<pid>-<random hex>`, unique per process.
    public var consumer = ""
    /// Most entries read (and written to PostgreSQL) at once.
    public var batchSize = 1000
    /// Batches one worker process works on at once, each in its own consumer lane (own Redis
    /// connection, own consumer name `<consumer>/<n>`), so reading the next batch overlaps committing
    /// the current one. At least one lane per stream shard. Keep it at most `postgres.maxConnections`.
    public var concurrency = 2
    /// How long one read waits for new entries. Also bounds how long SIGTERM waits for a read.
    public var blockMilliseconds = 1000
    /// After a batch smaller than `batchSize`, how long a lane waits before reading again, so that
    /// under moderate load events gather into larger batches: a batch's transaction costs about
    /// the same dozen statements whatever its size. Adds at most this much to the
    /// receive-to-commit delay; 0 reads again at once.
    public var lingerMilliseconds = 100
    /// Entries pending this long with any consumer are taken over (XAUTOCLAIM): the time after
    /// which a crashed worker's batch is retried elsewhere.
    public var claimMinIdleMilliseconds = 30_000
    /// How often a worker looks for such entries.
    public var claimIntervalMilliseconds = 5000
    /// First wait after PostgreSQL failed; doubles (with jitter) up to `maxBackoffMilliseconds`.
    public var backoffMilliseconds = 500
    public var maxBackoffMilliseconds = 30_000
    /// An entry delivered more than this many times without being acknowledged (it keeps failing
    /// or keeps taking its worker down) goes to the dead-letter stream, while PostgreSQL answers.
    public var maxDeliveries = 5
    /// How often a worker trims acknowledged entries and removes departed consumers.
    public var housekeepingIntervalMilliseconds = 60_000
    /// A consumer idle this long with nothing pending is removed from the group.
    public var consumerRetentionMilliseconds = 3_600_000
    /// PostgreSQL's `statement_timeout` and `lock_timeout` on the worker's sessions: a statement
    /// stuck behind a lock or a runaway plan is cancelled (and the batch retried) instead of
    /// holding its lane forever. 0 turns either off.
    public var statementTimeoutMilliseconds = 60_000
    public var lockTimeoutMilliseconds = 30_000
    /// After SIGTERM, how long the worker may take to finish and commit the batches in hand
    /// before it is cancelled (their entries stay pending and are reclaimed). With the 5 s allowed
    /// for cancellation it stays below the container's stop grace period (compose: 30 s).
    public var shutdownTimeoutMilliseconds = 20_000
    /// The operations port: `/metrics`, `/healthz`, `/readyz` (docs/METRICS.md). 0 lets the system
    /// pick a free port (it is logged); -1 turns it off. Two workers on one host need two ports.
    public var metricsHost = "0.0.0.0"
    public var metricsPort = 9102

    public init() {}
}

/// postwire-dispatcher: outbound webhooks to the team's own systems (docs/DELIVERY.md).
public struct DispatcherSettings: Codable, Sendable, Equatable {
    /// How often an endpoint with nothing due looks for due deliveries again.
    public var pollIntervalMilliseconds = 250
    /// How often the list of endpoints (added, changed, disabled) is read again.
    public var endpointRefreshMilliseconds = 5000
    /// One attempt's whole time: connecting, sending and the answer. Longer counts as a failure.
    public var requestTimeoutMilliseconds = 15_000
    public var connectTimeoutMilliseconds = 5000
    /// Waits before the second, third, … attempt (`5s`, `5m`, `2h`, `1d`), each varied by up to
    /// `retryJitter` of itself; after the last, the delivery fails. About a day in all.
    public var retrySchedule = ["5s", "5m", "30m", "2h", "5h", "10h"]
    public var retryJitter = 0.1
    /// A 429 or 503 with `Retry-After` waits that long (this at most) instead of the schedule's step.
    public var maxRetryAfterSeconds = 21_600
    /// An endpoint that has answered nothing but failures for this long is disabled, with an alert
    /// row in `webhook_alerts`.
    public var disableAfterFailingSeconds = 432_000
    /// Requests one dispatcher has in flight to one endpoint at most; endpoints never share them.
    public var concurrencyPerEndpoint = 4
    /// How much of a receiver's answer each attempt keeps.
    public var responseExcerptBytes = 512
    /// Endpoints for immutable deployments, made or updated at start (`managed_by = config`); each
    /// one's secret is `POSTWIRE_ENDPOINT_SECRET_<NAME>` (see ``EndpointSettings``).
    public var endpoints: [EndpointSettings] = []
    /// The operations port: `/metrics`, `/healthz`, `/readyz`. 0 picks a free port; -1 turns it off.
    public var metricsHost = "0.0.0.0"
    public var metricsPort = 9103

    public init() {}
}

/// An endpoint the dispatcher's configuration declares.
public struct EndpointSettings: Codable, Sendable, Equatable {
    public var name: String
    public var url: String
    public var description: String?
    /// Event types (`bounced` or `email.bounced`), providers, sources, campaigns, sender domains;
    /// absent or empty: all.
    public var eventTypes: [String]?
    public var providers: [String]?
    public var sources: [String]?
    public var campaigns: [String]?
    public var senderDomains: [String]?
    /// Events per request; 1 (absent) sends each on its own, more sends JSON arrays.
    public var batchSize: Int?
    /// Requests per second at most.
    public var rateLimit: Double?

    public init(name: String, url: String) {
        self.name = name
        self.url = url
    }

    /// `POSTWIRE_ENDPOINT_SECRET_CRM` for the endpoint `crm`; `…_FILE` names a file instead.
    public var secretVariable: String { "POSTWIRE_ENDPOINT_SECRET_" + Secrets.variablePart(name) }
}

/// The analysts' rules (docs/ANALYTICS.md).
public struct AnalyticsSettings: Codable, Sendable, Equatable {
    /// Days of raw events (`email_events`) kept; `postwire retention` drops older monthly
    /// partitions. Rollups, timelines, engagement and suppressions are kept.
    public var retentionDays = 400
    /// Where an event's campaign comes from: the first step that yields a value (`esp`,
    /// `metadata:<key>`, `tag:<prefix>`, `tag`).
    public var campaignRule = ["esp", "metadata:campaign", "metadata:campaign_id", "tag:campaign:"]
    /// An address is suppressed after this many soft bounces within `softBounceWindowDays`.
    public var softBounceLimit = 3
    public var softBounceWindowDays = 7
    /// Alert thresholds per sending domain over `alertWindowHours`: complaints / delivered, and
    /// bounced / (delivered + bounced). Industry practice: stay under 0.1 % complaints (Gmail and
    /// Yahoo sender rules) and 5 % bounces.
    public var complaintRateThreshold = 0.001
    public var bounceRateThreshold = 0.05
    public var alertWindowHours = 24
    /// Windows with fewer messages than this raise no alert (the rate would be noise).
    public var alertMinimumVolume = 500
    /// Whether the built-in list of machines' user agents (image proxies, link scanners, HTTP
    /// libraries; docs/ANALYTICS.md) marks opens and clicks as a machine's.
    public var knownMachineUserAgents = true
    /// More user agents that mark an open or click as a machine's:
    /// `[{"name": "acme_scanner", "contains": "AcmeScan/", "events": ["clicked"]}]`.
    public var machineUserAgents: [MachineUserAgent] = []
    /// Address ranges opens and clicks come from only when a machine makes them (Apple's proxy's
    /// published ranges, a gateway's): `[{"name": "apple_mpp", "ranges": ["17.0.0.0/8"], "events": ["opened"]}]`.
    public var machineNetworks: [MachineNetwork] = []
    /// Drop each open's and click's user agent and IP address once it is classified (privacy):
    /// the `user_agent` and `ip` columns stay empty.
    public var dropClientDetails = false
    /// Whether the built-in mailbox providers (Gmail, Outlook, Yahoo, Apple, GMX, …; docs/ANALYTICS.md)
    /// group recipient domains.
    public var knownMailboxProviders = true
    /// A click within this many seconds of its message's delivery is a link scanner's (0: off).
    public var scannerClickSeconds = 2.0
    /// This many clicks of one message within `clickBurstSeconds` are a scanner's (0: off).
    public var clickBurstCount = 3
    public var clickBurstSeconds = 1.0
    /// More, tried before the built-in ones: `[{"provider": "acme", "domains": ["acme.example", "*.acme.example", "acmemail.*"]}]`.
    public var mailboxProviders: [MailboxProviderSetting] = []

    public init() {}
}

/// One mailbox provider and the recipient domains it receives for (`analytics.mailboxProviders`).
public struct MailboxProviderSetting: Codable, Sendable, Equatable {
    public var provider: String
    /// `example.com`, `name.*` (any country or generic suffix) or `*.example.com` (and subdomains).
    public var domains: [String]

    public init(provider: String, domains: [String]) {
        self.provider = provider
        self.domains = domains
    }
}

/// A user agent only a machine sends (`analytics.machineUserAgents`).
public struct MachineUserAgent: Codable, Sendable, Equatable {
    public var name: String
    /// Matched case-insensitively anywhere in the user agent.
    public var contains: String
    /// `opened`, `clicked` or both (the default).
    public var events: [String]?

    public init(name: String, contains: String, events: [String]? = nil) {
        self.name = name
        self.contains = contains
        self.events = events
    }
}

/// Addresses only machines open or click from (`analytics.machineNetworks`).
public struct MachineNetwork: Codable, Sendable, Equatable {
    public var name: String
    /// CIDR ranges or single addresses, IPv4 or IPv6.
    public var ranges: [String]
    /// `opened`, `clicked` or both (the default).
    public var events: [String]?

    public init(name: String, ranges: [String], events: [String]? = nil) {
        self.name = name
        self.ranges = ranges
        self.events = events
    }
}

public struct SourceSettings: Codable, Sendable, Equatable {
    /// The ESP: `mailgun`, `sendgrid`, …
    public var provider: String
    /// The `{source}` URL segment; `default` also answers `/webhooks/{provider}`.
    public var name: String
    /// Seconds a signed timestamp may differ from now; absent: the provider's default
    /// (Mailgun 300, SendGrid 0 = off); 0 turns the check off.
    public var replayWindowSeconds: Int?
    /// Accept requests without credentials when no secret is configured. Local development only.
    public var allowUnauthenticated: Bool?
    /// The webhook URL exactly as entered at the ESP; Mandrill signs it.
    public var url: String?
    /// Amazon SES: the SNS topic ARNs this source accepts; required for an SES source.
    public var topicArns: [String]?
    /// Amazon SES: confirm SNS subscriptions to allowed topics by fetching their SubscribeURL
    /// (default true); when false the URL is logged for the operator.
    public var autoConfirmSubscriptions: Bool?
    /// CIDR ranges allowed to post to this source (e.g. the ESP's published webhook ranges);
    /// absent or empty: any address. Others get 403.
    public var ipAllowlist: [String]?
    /// Requests per second this source may make, shared by every ingress (a token bucket in
    /// Redis); more get 429 with `Retry-After`. Absent: no limit.
    public var rateLimit: RateLimitSettings?

    public init(
        provider: String, name: String, replayWindowSeconds: Int? = nil, allowUnauthenticated: Bool? = nil, url: String? = nil,
        topicArns: [String]? = nil, autoConfirmSubscriptions: Bool? = nil, ipAllowlist: [String]? = nil,
        rateLimit: RateLimitSettings? = nil
    ) {
        self.provider = provider
        self.name = name
        self.replayWindowSeconds = replayWindowSeconds
        self.allowUnauthenticated = allowUnauthenticated
        self.url = url
        self.topicArns = topicArns
        self.autoConfirmSubscriptions = autoConfirmSubscriptions
        self.ipAllowlist = ipAllowlist
        self.rateLimit = rateLimit
    }

    /// The environment variable holding this source's secrets, comma-separated for rotation:
    /// `POSTWIRE_SECRET_MAILGUN_DEFAULT`. `…_FILE` names a file holding them instead.
    public var secretVariable: String {
        "POSTWIRE_SECRET_" + Secrets.variablePart(provider) + "_" + Secrets.variablePart(name)
    }
}

/// A token bucket: `requestsPerSecond` on average, bursts of up to `burst` requests.
public struct RateLimitSettings: Codable, Sendable, Equatable {
    public var requestsPerSecond: Double
    /// Absent: one second's worth (`requestsPerSecond`, at least 1).
    public var burst: Int?

    public init(requestsPerSecond: Double, burst: Int? = nil) {
        self.requestsPerSecond = requestsPerSecond
        self.burst = burst
    }

    public var capacity: Int { burst ?? max(1, Int(requestsPerSecond.rounded(.up))) }
}
