"""Static tables the simulator draws from: places, networks, browsers, apps and names.

They are simulation parameters, not detection content, so they live next to the code that uses them.
IP prefixes are the first two octets of public ranges typical for the named provider; the simulator
fills in the last two octets at random.
"""

from __future__ import annotations

from dataclasses import dataclass

# The tables below are kept one entry per line (or row-packed) for reading; the formatter would
# explode each record over ten lines.
# fmt: off


@dataclass(frozen=True, slots=True)
class Place:
    """A city users connect from, with the networks (ISP/ASN and IP prefixes) seen there."""

    country: str
    state: str
    city: str
    postal: str
    lat: float
    lon: float
    isp: str
    asn: int
    domain: str
    prefixes: tuple[str, ...]


# Where employees and customers live. Employees are mostly in the first few.
HOME_PLACES: tuple[Place, ...] = (
    Place("United States", "California", "San Francisco", "94107", 37.7697, -122.3933,
          "Comcast Cable Communications", 7922, "comcast.net", ("73.158", "98.207", "67.180")),
    Place("United States", "New York", "New York", "10001", 40.7484, -73.9967,
          "Verizon Fios", 701, "verizon.net", ("72.229", "100.2", "108.6")),
    Place("United States", "Texas", "Austin", "78701", 30.2711, -97.7437,
          "Charter Communications", 11427, "spectrum.com", ("24.28", "70.114", "97.99")),
    Place("United States", "Washington", "Seattle", "98101", 47.6101, -122.3344,
          "Comcast Cable Communications", 7922, "comcast.net", ("73.109", "76.104")),
    Place("United Kingdom", "England", "London", "EC2A", 51.5226, -0.0835,
          "British Telecommunications", 2856, "bt.com", ("81.153", "86.128", "109.144")),
    Place("Germany", "Berlin", "Berlin", "10115", 52.5323, 13.3846,
          "Deutsche Telekom AG", 3320, "telekom.de", ("84.131", "91.64", "93.192")),
    Place("France", "Ile-de-France", "Paris", "75002", 48.8682, 2.3431,
          "Orange S.A.", 3215, "orange.fr", ("90.84", "86.246")),
    Place("Canada", "Ontario", "Toronto", "M5H", 43.6511, -79.3835,
          "Rogers Communications", 812, "rogers.com", ("99.224", "174.112")),
    Place("India", "Karnataka", "Bengaluru", "560001", 12.9716, 77.5946,
          "Bharti Airtel", 24560, "airtel.in", ("49.207", "122.171")),
    Place("Japan", "Tokyo", "Tokyo", "100-0005", 35.6812, 139.7671,
          "NTT Communications", 4713, "ntt.com", ("126.15", "153.156")),
    Place("Brazil", "Sao Paulo", "Sao Paulo", "01310", -23.5614, -46.6559,
          "Telefonica Brasil", 27699, "vivo.com.br", ("177.33", "189.100")),
    Place("Australia", "New South Wales", "Sydney", "2000", -33.8688, 151.2093,
          "Telstra Corporation", 1221, "telstra.com", ("101.160", "120.156")),
)

# Cloud regions integrations run in; their egress ranges are fixed (see ``EGRESS_NETWORKS``).
CLOUD_PLACES: tuple[Place, ...] = (
    Place("United States", "Virginia", "Ashburn", "20147", 39.0438, -77.4874,
          "Amazon.com, Inc.", 14618, "amazonaws.com", ("52.23",)),
    Place("United States", "Oregon", "The Dalles", "97058", 45.5946, -121.1787,
          "Google LLC", 396982, "googleusercontent.com", ("35.199",)),
)

# The organisation's integration egress networks: every benign machine-to-machine call comes from
# one of these, and the bundled rule for Auth0 client-credential use outside them lists the same.
EGRESS_NETWORKS: tuple[str, ...] = ("52.23.180.0/24", "35.199.64.0/24")
EGRESS_PREFIXES: tuple[str, ...] = ("52.23.180", "35.199.64")

# The company's offices: employees living in these cities work there on some days, behind the
# office's one egress address (shared by everyone in that office).
OFFICE_CITIES: tuple[str, ...] = ("San Francisco", "New York", "Austin", "London", "Berlin")

# Hosting and anonymising networks attackers operate from; no benign user is ever placed here.
ATTACKER_PLACES: tuple[Place, ...] = (
    Place("Netherlands", "North Holland", "Amsterdam", "1012", 52.3740, 4.8897,
          "M247 Europe SRL", 9009, "m247.com", ("185.220", "193.189")),
    Place("Romania", "Bucharest", "Bucharest", "010011", 44.4268, 26.1025,
          "Hosting Solutions SRL", 200019, "hostsol.ro", ("45.153", "194.26")),
    Place("Singapore", "Singapore", "Singapore", "018989", 1.2789, 103.8536,
          "DigitalOcean, LLC", 14061, "digitalocean.com", ("159.89", "206.189")),
    Place("Russia", "Moscow", "Moscow", "101000", 55.7558, 37.6173,
          "Selectel Ltd", 49505, "selectel.ru", ("80.93", "92.53")),
)


@dataclass(frozen=True, slots=True)
class Browser:
    """A user agent as the three vendors report it."""

    raw: str
    os: str
    browser: str
    auth0: str  # Auth0's short form: "Chrome 124.0.0 / Mac OS X 10.15.7"
    device: str  # Okta client.device


# The browsers on people's computers, and on their phones.
COMPUTER_BROWSERS: tuple[Browser, ...] = (
    Browser("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36", "Mac OS X", "CHROME", "Chrome 124.0.0 / Mac OS X 10.15.7",
            "Computer"),
    Browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0", "Windows 10", "EDGE_CHROMIUM",
            "Edge 124.0.0 / Windows 10.0.0", "Computer"),
    Browser("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
            "Windows 10", "FIREFOX", "Firefox 125.0.0 / Windows 10.0.0", "Computer"),
    Browser("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.4.1 Safari/605.1.15", "Mac OS X", "SAFARI", "Safari 17.4.1 / Mac OS X 10.15.7",
            "Computer"),
)
PHONE_BROWSERS: tuple[Browser, ...] = (
    Browser("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "iOS", "SAFARI",
            "Mobile Safari 17.4.1 / iOS 17.4.1", "Mobile"),
    Browser("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/124.0.6367.82 Mobile Safari/537.36", "Android", "CHROME",
            "Chrome Mobile 124.0.6367 / Android 14.0.0", "Mobile"),
)
BROWSERS: tuple[Browser, ...] = COMPUTER_BROWSERS + PHONE_BROWSERS

# Tools attackers replay stolen tokens with.
ATTACKER_AGENTS: tuple[str, ...] = (
    "python-requests/2.31.0",
    "curl/8.4.0",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
)

# Okta SSO app instances employees sign in to: (label, app name in the catalog).
OKTA_SSO_APPS: tuple[tuple[str, str], ...] = (
    ("Salesforce.com", "salesforce"),
    ("Slack", "slack"),
    ("GitHub Enterprise Cloud", "githubcloud"),
    ("Zoom", "zoomus"),
    ("Atlassian Cloud", "atlassian"),
    ("Google Workspace", "google"),
    ("Workday", "workday"),
    ("Box", "boxnet"),
)

# Okta OIDC apps behind the custom authorization server (users get id/access/refresh tokens).
OKTA_OIDC_APPS: tuple[str, ...] = ("Employee Portal", "Expense Tracker", "Internal Wiki")

# Okta API service apps (client-credentials integrations).
OKTA_SERVICE_APPS: tuple[str, ...] = ("SCIM Provisioner", "HR Sync Job", "Access Review Bot")

# Okta service accounts integrations call the Management API as, with an API token:
# (display name, login, the integration's user agent).
OKTA_SERVICE_ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    ("HR Provisioning", "svc.hr-provisioning", "okta-sdk-python/2.9.8 python/3.11.9"),
    ("Directory Sync", "svc.directory-sync", "okta-sdk-java/8.2.5 java/17.0.9"),
)

# Scopes benign users consent to.
BENIGN_CONSENT_SCOPES: tuple[str, ...] = ("openid profile email", "openid profile email offline_access")

OKTA_MFA_FACTORS: tuple[tuple[str, str], ...] = (
    ("OKTA_VERIFY_PUSH", "push"),
    ("FIDO_WEBAUTHN", "webauthn"),
    ("OKTA_VERIFY_TOTP", "token:software:totp"),
)

# Auth0 applications of the customer-facing tenant: (name, kind).
AUTH0_APPS: tuple[tuple[str, str], ...] = (
    ("Storefront Web", "spa"),
    ("Storefront iOS", "native"),
    ("Partner Portal", "regular_web"),
)
AUTH0_M2M_APPS: tuple[str, ...] = ("Billing Service", "Support Desk Sync", "Analytics Export")

# Management API operations integrations and dashboard admins perform:
# (log type, description, method, path template). ``{id}`` is filled with a user or client id.
AUTH0_MGMT_CALLS: tuple[tuple[str, str, str, str], ...] = (
    ("mgmt_api_read", "Get users", "get", "/api/v2/users"),
    ("mgmt_api_read", "Get a user", "get", "/api/v2/users/{id}"),
    ("mgmt_api_read", "Get users by email", "get", "/api/v2/users-by-email"),
    ("sapi", "Update a user", "patch", "/api/v2/users/{id}"),
    ("mgmt_api_read", "Get roles", "get", "/api/v2/roles"),
)

# Salesforce connected apps: (name, used by integrations, used by people on their phones).
SF_INTEGRATION_APPS: tuple[str, ...] = ("DataLoader Sync", "Marketing Cloud Connector", "Zendesk CRM Sync")
SF_MOBILE_APP = "Salesforce for iOS"
SF_ENTITIES: tuple[str, ...] = ("Account", "Contact", "Opportunity", "Lead", "Case", "Task")
SF_PAGES: tuple[str, ...] = (
    "/lightning/page/home", "/lightning/o/Account/list", "/lightning/o/Opportunity/list",
    "/lightning/r/Account/view", "/lightning/o/Case/list", "/lightning/o/Report/home",
)
# Benign setup changes: (section, action, display text).
SF_SETUP_CHANGES: tuple[tuple[str, str, str], ...] = (
    ("Manage Users", "changedUserEmail", "Changed email for user {user}"),
    ("Manage Users", "resetpassword", "Reset password for {user}"),
    ("Profiles", "profileFlsChanged", "Changed field-level security on Account for profile Sales User"),
    ("Sharing Rules", "sharingRuleUpdated", "Updated sharing rule Opportunities for Sales Managers"),
    ("Email Administration", "emailDeliverabilityChanged", "Changed email deliverability to All email"),
    ("Connected Apps", "connectedAppLogoChanged", "Changed logo URL for connected app {app}"),
)

FIRST_NAMES: tuple[str, ...] = (
    "Ava", "Liam", "Noah", "Emma", "Mia", "Lucas", "Sofia", "Ethan", "Amelia", "Mason", "Priya", "Arjun",
    "Yuki", "Hana", "Lea", "Jonas", "Chloe", "Hugo", "Olivia", "Mateo", "Isabela", "Kenji", "Zara",
    "Omar", "Nora", "Felix", "Ines", "Ravi", "Grace", "Diego",
)
LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Brown", "Garcia", "Miller", "Davis", "Martinez", "Lopez", "Wilson", "Anderson",
    "Patel", "Sharma", "Tanaka", "Sato", "Muller", "Schmidt", "Dubois", "Martin", "Silva", "Costa",
    "Nguyen", "Kim", "Chen", "Wong", "Taylor", "Moore", "Clark", "Lewis", "Walker", "Young",
)
# fmt: on
