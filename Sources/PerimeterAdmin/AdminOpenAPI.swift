/// The admin API's OpenAPI 3.1 description, served at `/admin/v1/openapi.json`.
import PerimeterAdminModels

/// Values interpolated from ``AdminContract``, so the document declares what the server checks.
enum AdminOpenAPI {
    static let since =
        #"{"anyOf": [{"type": "string", "pattern": \#(AdminContract.window.json)}, {"type": "string", "format": "date-time"}]}"#
    static let label128 =
        #"{"type": "string", "minLength": 1, "maxLength": 128, "pattern": "[^ ]", "not": {"pattern": \#(TextPattern.jsonString(AdminContract.controlCharacter))}}"#
    static let label64 =
        #"{"type": "string", "minLength": 1, "maxLength": 64, "pattern": "[^ ]", "not": {"pattern": \#(TextPattern.jsonString(AdminContract.controlCharacter))}}"#
    static let owner =
        #"{"type": ["string", "null"], "maxLength": 128, "not": {"type": "string", "pattern": \#(TextPattern.jsonString(AdminContract.controlCharacter))}}"#

    static let core = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Perimeter admin API",
            "version": "1",
            "description": "Manage virtual keys (including their rotation), the built-in secret store and admin tokens, and read the call log, spend, audit log and inventory of a Perimeter gateway. Every request needs 'Authorization: Bearer <admin token>'; a token with the viewer role may only use GET. Request bodies are JSON of at most 64 KiB (8 MiB for POST /findings); a larger one is a 413. Errors are {\"error\":{\"message\",\"type\",\"param\",\"code\"}}."
          },
          "servers": [{"url": "/admin/v1"}],
          "security": [{"adminToken": []}],
          "paths": {
            "/keys": {
              "get": {
                "summary": "List virtual keys, revoked ones included",
                "parameters": [{"name": "env", "in": "query", "schema": {"type": "string"}, "description": "Only keys of this environment"}],
                "responses": {"200": {"description": "Keys", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyList"}}}}, "401": {"$ref": "#/components/responses/Error"}}
              },
              "post": {
                "summary": "Create a virtual key; the response shows its secret once. With rotation.deliver_to, the first secret is delivered there before the key is stored",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateKey"}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, "201": {"description": "The new key, with 'key'", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "502": {"$ref": "#/components/responses/Error"}, "409": {"description": "A rotation.deliver_to this gateway is not set up for (file delivery off or outside its directories, Vault or AWS not configured)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
              }
            },
            "/keys/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {
                "summary": "One virtual key",
                "responses": {"200": {"description": "The key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "401": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
              },
              "patch": {
                "summary": "Change a key's name, owner, limits or rotation schedule; applies from the next request, all or nothing",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UpdateKey"}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, "200": {"description": "The updated key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "409": {"description": "A rotation.deliver_to this gateway is not set up for (file delivery off or outside its directories, Vault or AWS not configured)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}
              },
              "delete": {
                "summary": "Revoke a virtual key (its record and history are kept); repeating it changes nothing",
                "parameters": [{"name": "reason", "in": "query", "schema": {"type": "string"}, "description": "Why; recorded in the audit log (first 500 characters)"}],
                "responses": {"200": {"description": "The revoked key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/keys/{id}/rotate": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "post": {
                "summary": "Issue a new secret for the key (same id, limits and spend); the previous secret keeps working for the grace period. The new secret is delivered to rotation.deliver_to first and committed only if that succeeded",
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 255}, "description": "A retry with the same value (for the same key, within a day, through any instance sharing the database) answers 200 with the first rotation's secret instead of rotating again"}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RotateKey"}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, 
                  "201": {"description": "The key rotated; 'key.key' is the new secret", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyRotation"}}}},
                  "200": {"description": "A replay of an earlier rotation with the same Idempotency-Key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KeyRotation"}}}},
                  "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
                  "409": {"description": "The key is revoked, the Idempotency-Key was used for another key, its rotation is still running elsewhere or lost its answer, or the grace is longer than the environment's maximum key age", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "502": {"description": "The new secret could not be delivered; the key was not changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            \#(callPaths)
            "/spend": {
              "get": {
                "summary": "Spend totals per key, environment, model or owner",
                "parameters": [
                  {"name": "group_by", "in": "query", "schema": {"type": "string", "enum": ["key", "env", "model", "owner", "provider"], "default": "key"}},
                  {"name": "since", "in": "query", "schema": \#(since), "description": "A duration back from now (90s, 15m, 1h, 30d, 4w) or an RFC 3339 time"},
                  {"name": "until", "in": "query", "schema": \#(since), "description": "Calls before this time only: a duration back from now or an RFC 3339 time (before since: no calls)"}
                ],
                "responses": {"200": {"description": "Spend", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Spend"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/secrets": {
              "get": {
                "summary": "Secrets of the built-in store (store:NAME), without their values",
                "responses": {"200": {"description": "Secrets", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SecretList"}}}}, "401": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/secrets/{name}": {
              "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": \#(AdminContract.secretName.json)}, "description": "1 to 128 letters, digits and . _ - (not ., .. or reload)"}],
              "put": {
                "summary": "Store the first version of a new secret; providers using store:NAME pick it up at once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SecretValue"}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, 
                  "201": {"description": "The new secret", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Secret"}}}},
                  "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                  "409": {"description": "The secret exists (rotate it instead)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              },
              "delete": {
                "summary": "Delete a secret with all its versions",
                "responses": {"200": {"description": "Deleted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeletedSecret"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/secrets/{name}/rotate": {
              "parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": \#(AdminContract.secretName.json)}}],
              "post": {
                "summary": "Store a new version of an existing secret (earlier versions are kept); providers using it pick it up at once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SecretValue"}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, 
                  "200": {"description": "The secret, with its new version", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Secret"}}}},
                  "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
                  "409": {"description": "Another writer stored this version concurrently; try again", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/secrets/reload": {
              "post": {
                "summary": "Fetch every secret reference of the configuration again, from every store, now",
                "responses": {"200": {"description": "One row per reference", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SecretCheckList"}}}}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/admins": {
              "get": {
                "summary": "Admin tokens, revoked ones included (never their secrets)",
                "responses": {"200": {"description": "Admin tokens", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AdminTokenList"}}}}, "401": {"$ref": "#/components/responses/Error"}}
              },
              "post": {
                "summary": "Create a named admin token; the response shows its secret once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateAdmin"}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, 
                  "201": {"description": "The new admin token, with 'token'", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AdminToken"}}}},
                  "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"},
                  "409": {"description": "An active admin token has this name", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/admins/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "delete": {
                "summary": "Revoke an admin token; repeating it changes nothing",
                "responses": {
                  "200": {"description": "The revoked admin token", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AdminToken"}}}},
                  "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"},
                  "409": {"description": "A token cannot revoke itself", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/audit": {
              "get": {
                "summary": "The append-only audit log of admin actions, newest first",
                "parameters": [
                  {"name": "since", "in": "query", "schema": \#(since), "description": "A duration back from now (90s, 15m, 1h, 30d, 4w) or an RFC 3339 time"},
                  {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000}}
                ],
                "responses": {"200": {"description": "Audit entries", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AuditList"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/findings": {
              "post": {
                "summary": "Report leaked keys found by a scanner; kept once per (sha256, path, rule, owner, hostname) and shown in the inventory, per owner when the report names one",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["findings"], "properties": {"findings": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/components/schemas/FindingReport"}}}}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, "200": {"description": "How many findings arrived and how many were not known before", "content": {"application/json": {"schema": {"type": "object", "required": ["received", "new"], "properties": {"received": {"type": "integer"}, "new": {"type": "integer"}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/inventory": {
              "get": {
                "summary": "Every virtual key and provider credential, with what is wrong with each, plus reported findings, per-environment totals and, per owner, the keys found on their machines and issued to them",
                "responses": {"200": {"description": "The inventory", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Inventory"}}}}, "401": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/inventory/sync": {
              "post": {
                "summary": "Read every provider's own key list and usage report now, with its admin_key (otherwise every inventory.provider_sync); raises shadow_usage and unmanaged_key_used",
                "responses": {"200": {"description": "How each provider's read went", "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/ProviderSync"}}}}}}}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/provider-keys": {
              "get": {
                "summary": "Every key the providers with an admin_key list (OpenAI project and admin keys, Anthropic API keys), as of the last sync, with whether the gateway holds each",
                "responses": {"200": {"description": "Provider keys", "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/ProviderKey"}}}}}}}, "401": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/provider-keys/{id}/disable": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "post": {
                "summary": "Deactivate a provider key at its provider (Anthropic: status inactive; OpenAI: a user's project key deleted). Refused for a credential the gateway holds (rotate it instead) and for a key already inactive. Audited",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string", "maxLength": 500}, "dry_run": {"type": "boolean", "default": false, "description": "Check everything, change nothing"}}}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, "200": {"description": "The key as it was, and whether this was a dry run", "content": {"application/json": {"schema": {"type": "object", "required": ["key", "dry_run"], "properties": {"key": {"$ref": "#/components/schemas/ProviderKey"}, "dry_run": {"type": "boolean"}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}, "409": {"$ref": "#/components/responses/Error"}, "502": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/fingerprints": {
              "post": {
                "summary": "Keyed fingerprints of every virtual key and cached provider credential, for perimeter scan: HMAC-SHA256 under the caller's one-time salt of each secret's SHA-256; never a value or a plain digest",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["salt"], "properties": {"salt": {"type": "string", "pattern": \#(AdminContract.salt.json), "description": "32 random bytes as 64 hex digits"}}}}}},
                "responses": {"413": {"$ref": "#/components/responses/Error"}, "200": {"description": "Fingerprints", "content": {"application/json": {"schema": {"type": "object", "properties": {"keys": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}, "fingerprint": {"type": "string"}}}}, "credentials": {"type": "array", "items": {"type": "object", "properties": {"reference": {"type": "string"}, "fingerprint": {"type": "string"}}}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/alerts": {
              "get": {
                "summary": "Raised alerts, newest first, with their delivery state per channel",
                "parameters": [
                  {"name": "since", "in": "query", "schema": \#(since), "description": "A duration back from now (15m, 24h, 7d) or an RFC 3339 time"},
                  {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 500}}
                ],
                "responses": {"200": {"description": "Alerts", "content": {"application/json": {"schema": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Alert"}}}}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/alerts/rules": {
              "get": {
                "summary": "The alert rules in force and the channels alerts are delivered to",
                "responses": {"200": {"description": "Rules and channels", "content": {"application/json": {"schema": {"type": "object", "properties": {"rules": {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string"}, "severity": {"type": "string"}, "rule": {"type": "string"}}}}, "channels": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": ["webhook", "slack"]}, "min_severity": {"type": "string", "enum": ["info", "warning", "critical"]}, "envs": {"type": "array", "items": {"type": "string"}}, "signed": {"type": "boolean"}}}}}}}}}, "401": {"$ref": "#/components/responses/Error"}}
              }
            }
          },
          "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}, "consoleSession": {"type": "apiKey", "in": "cookie", "name": "perimeter_session"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
              "Alert": {"type": "object", "required": ["id", "type", "severity", "time", "message", "details", "deliveries"], "properties": {
                "id": {"type": "string"}, "type": {"type": "string", "enum": ["budget_threshold", "spend_spike", "new_source", "denial_burst", "invalid_key_burst", "canary_used"]},
                "severity": {"type": "string", "enum": ["info", "warning", "critical"]}, "time": {"type": "string", "format": "date-time"},
                "key_id": {"type": ["string", "null"]}, "env": {"type": ["string", "null"]}, "message": {"type": "string"},
                "details": {"type": "object", "additionalProperties": {"type": "string"}},
                "deliveries": {"type": "array", "items": {"type": "object", "properties": {"channel": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "delivered"]}, "attempts": {"type": "integer"}, "delivered_at": {"type": ["string", "null"], "format": "date-time"}, "last_error": {"type": ["string", "null"]}}}}}},
              "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["message", "type", "code"], "properties": {"message": {"type": "string"}, "type": {"type": "string"}, "param": {"type": ["string", "null"]}, "code": {"type": "string"}}}}},
              "CreateKey": {"type": "object", "required": ["name", "env"], "additionalProperties": false, "properties": {"canary": {"type": ["boolean", "null"], "description": "Create a canary key (no limits, no rotation)"}, "name": \#(label128), "env": {"type": "string", "pattern": \#(AdminContract.environment.json)}, "owner": \#(owner), "limits": {"anyOf": [{"$ref": "#/components/schemas/Limits"}, {"type": "null"}]}, "rotation": {"anyOf": [{"$ref": "#/components/schemas/Rotation"}, {"type": "null"}]}},
                "if": {"required": ["canary"], "properties": {"canary": {"const": true}}},
                "then": {"properties": {"limits": {"type": "null"}, "rotation": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {"every": {"type": "null"}, "deliver_to": {"type": "null"}}}]}}, "description": "A canary key has no limits and no schedule"}},
              "UpdateKey": {"type": "object", "additionalProperties": false, "properties": {"name": {"anyOf": [\#(label128), {"type": "null"}], "description": "null or absent leaves it"}, "owner": \#(owner), "limits": {"anyOf": [{"$ref": "#/components/schemas/Limits"}, {"type": "null"}], "description": "A present field sets that limit, null removes it, an absent field is left alone"}, "rotation": {"anyOf": [{"$ref": "#/components/schemas/Rotation"}, {"type": "null"}], "description": "Replaces the schedule; {} (neither 'every' nor 'deliver_to') removes it; absent or null leaves it alone"}}},
              "Limits": {"type": "object", "additionalProperties": false, "properties": {
                "budget": {"anyOf": [{"type": "object", "additionalProperties": false, "required": ["usd", "period"], "properties": {"usd": {"type": "number", "minimum": 0, "maximum": 1000000000}, "period": {"type": "string", "enum": ["day", "week", "month", "total"]}}}, {"type": "null"}]},
                "rpm": {"type": ["integer", "null"], "minimum": 1, "maximum": 10000000}, "tpm": {"type": ["integer", "null"], "minimum": 1, "maximum": 10000000000},
                "allowed_ips": {"type": ["array", "null"], "items": {"type": "string", "pattern": \#(AdminContract.cidr.json), "description": "IPv4 or IPv6 address or CIDR"}},
                "models": {"type": ["array", "null"], "items": {"type": "string", "pattern": \#(AdminContract.modelPattern.json), "description": "Model pattern with * wildcards"}},
                "operations": {"type": ["array", "null"], "minItems": 1, "items": {"type": "string", "enum": ["chat", "responses", "embeddings", "messages", "models", "count_tokens", "generate", "converse", "invoke"]}},
                "tools": {"anyOf": [{"type": "string", "enum": ["allow", "deny"]}, {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}, {"type": "null"}]},
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
                "providers": {"type": ["array", "null"], "items": {"type": "string", "pattern": \#(AdminContract.providerName.json)}, "description": "Names of the configured providers the key's calls may go to; a model only they serve is refused with provider_not_allowed"}}},
              "Rotation": {"type": "object", "additionalProperties": false, "description": "A key's rotation schedule. It needs 'every' or 'deliver_to'; an object with neither asks for no schedule", "properties": {
                "every": {"type": ["string", "null"], "pattern": \#(AdminContract.rotationEvery.json), "description": "Rotate automatically this often: a duration such as 30d (1s to 100 years)"},
                "grace": {"type": ["string", "null"], "pattern": \#(AdminContract.scheduleGrace.json), "default": "24h", "description": "How long the previous secret keeps working after a rotation: a duration such as 24h"},
                "deliver_to": {"type": ["string", "null"], "pattern": \#(AdminContract.deliveryTarget.json), "description": "Where each new secret is written: store:NAME (the built-in store), file:PATH (an absolute path in one of the configured rotation.delivery_directories; written with mode 0600), vault:MOUNT/PATH#FIELD, aws-sm:ID[#FIELD], azure-kv:VAULT/SECRET or gcp-sm:projects/PROJECT/secrets/SECRET (a new version; when the gateway is configured for them; otherwise 409)"}}},
              "Budget": {"type": ["object", "null"], "properties": {"limit_usd": {"type": "number"}, "period": {"type": "string"}, "spent_usd": {"type": "number"}, "reserved_usd": {"type": "number"}, "remaining_usd": {"type": "number"}, "period_start": {"type": "string", "format": "date-time"}, "resets_at": {"type": ["string", "null"], "format": "date-time"}}},
              "Key": {"type": "object", "required": ["id", "name", "env", "prefix", "status", "created_at", "generation", "rotated_at", "rotation"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "env": {"type": "string"}, "owner": {"type": ["string", "null"]},
                "prefix": {"type": "string", "description": "The displayable start of the current secret"},
                "status": {"type": "string", "enum": ["active", "expired", "revoked", "canary"]}, "canary": {"type": "boolean", "description": "A decoy: never forwarded; any use raises a critical canary_used alert"},
                "limits": {"$ref": "#/components/schemas/Limits"}, "budget": {"$ref": "#/components/schemas/Budget"}, "environment_budget": {"$ref": "#/components/schemas/Budget"},
                "created_at": {"type": "string", "format": "date-time"}, "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                "generation": {"type": "integer", "minimum": 1, "description": "Which secret is current: 1 at creation, one more per rotation"},
                "rotated_at": {"type": ["string", "null"], "format": "date-time", "description": "When the current secret was issued by a rotation; null before the first"},
                "rotation": {"oneOf": [{"$ref": "#/components/schemas/Rotation"}, {"type": "null"}]},
                "key": {"type": "string", "description": "The secret; only in the responses to POST /keys and POST /keys/{id}/rotate"}}},
              "KeyList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}}},
              "RotateKey": {"type": "object", "additionalProperties": false, "properties": {"grace": {"type": ["string", "null"], "pattern": \#(AdminContract.rotationGrace.json), "default": "24h", "description": "How long the previous secret keeps working: 0s to 30d; longer than the environment's maximum key age is a 409"}}},
              "KeyRotation": {"type": "object", "required": ["key", "previous_generation", "previous_retires_at"], "properties": {
                "key": {"$ref": "#/components/schemas/Key"},
                "previous_generation": {"type": "integer"},
                "previous_retires_at": {"type": "string", "format": "date-time", "description": "When the previous secret stops working"},
                "delivered_to": {"type": "string", "description": "Where the new secret was written; absent when the key has no delivery target"}}},
              "Call": {"type": "object", "properties": {
                "id": {"type": "string"}, "time": {"type": "string", "format": "date-time"}, "key_id": {"type": ["string", "null"]}, "key_name": {"type": ["string", "null"]},
                "key_generation": {"type": ["integer", "null"], "description": "Which generation of the key's secret the caller presented"},
                "env": {"type": ["string", "null"]}, "owner": {"type": ["string", "null"]}, "client_ip": {"type": ["string", "null"]}, "provider": {"type": ["string", "null"]},
                "model": {"type": ["string", "null"]}, "operation": {"type": "string", "enum": ["chat", "responses", "embeddings", "messages", "models", "count_tokens", "generate", "converse", "invoke"]},
                "stream": {"type": "boolean"}, "status": {"type": "integer"}, "outcome": {"type": "string", "enum": ["ok", "denied", "upstream_error", "stream_cut", "client_cancelled", "in_flight", "interrupted"], "description": "in_flight: a budgeted call under way, shown with its reserved worst case; interrupted: the gateway stopped while it was under way, charged that worst case"},
                "input_tokens": {"type": "integer"}, "cached_input_tokens": {"type": "integer"}, "cache_write_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
                "usage_source": {"type": ["string", "null"], "enum": ["provider", "estimated", "reserved", null], "description": "provider: the provider reported the usage; estimated: the call ended without that report (the client left, the stream was cut) and is charged the request's input ceiling and the output tokens relayed; reserved: the worst case reserved before the call went upstream (in_flight and interrupted calls); null: the call never reached a provider"},
                "cost_usd": {"type": ["number", "null"], "description": "null when the model has no known price"}, "latency_ms": {"type": "integer"}, "error_code": {"type": ["string", "null"]}}},
              \#(callSchemas)
              "SpendRow": {"type": "object", "properties": {"group": {"type": "string"}, "calls": {"type": "integer"}, "input_tokens": {"type": "integer"}, "cached_input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "cost_usd": {"type": "number"}, "unpriced_calls": {"type": "integer"}}},
              "Spend": {"type": "object", "properties": {"group_by": {"type": "string"}, "since": {"type": ["string", "null"]}, "until": {"type": ["string", "null"]}, "data": {"type": "array", "items": {"$ref": "#/components/schemas/SpendRow"}}, "total": {"$ref": "#/components/schemas/SpendRow"}}},
              "SecretValue": {"type": "object", "additionalProperties": false, "required": ["value"], "properties": {"value": {"type": "string", "minLength": 1, "pattern": \#(TextPattern.jsonString(AdminContract.notBlank)), "description": "The secret: not blank, at most 64 KiB of UTF-8. No response ever contains it"}}},
              "Secret": {"type": "object", "required": ["name", "reference", "version", "versions", "created_at", "updated_at", "used_by"], "properties": {
                "name": {"type": "string"}, "reference": {"type": "string", "description": "store:NAME, as the configuration refers to it"},
                "version": {"type": "integer", "description": "The latest version"}, "versions": {"type": "integer", "description": "How many versions are kept"},
                "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
                "used_by": {"type": "array", "items": {"type": "string"}, "description": "What in the configuration refers to it"}}},
              "SecretList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Secret"}}}},
              "DeletedSecret": {"type": "object", "required": ["name", "deleted"], "properties": {"name": {"type": "string"}, "deleted": {"const": true}}},
              "SecretCheck": {"type": "object", "required": ["reference", "used_by", "store", "status", "version", "error"], "properties": {
                "reference": {"type": "string", "description": "scheme:path, such as store:openai or vault:secret/perimeter/openai#api_key"},
                "used_by": {"type": "array", "items": {"type": "string"}},
                "store": {"type": "string", "description": "The scheme of the store that answered or failed"},
                "status": {"type": "string", "enum": ["ok", "error"]},
                "version": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}}},
              "SecretCheckList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/SecretCheck"}}}},
              "CreateAdmin": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": \#(label64), "role": {"type": ["string", "null"], "enum": ["admin", "viewer", null], "default": "viewer"}}},
              "AdminToken": {"type": "object", "required": ["id", "name", "role", "created_at"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "viewer"]},
                "created_at": {"type": "string", "format": "date-time"}, "revoked_at": {"type": "string", "format": "date-time", "description": "Absent while active"},
                "token": {"type": "string", "description": "The secret; only in the response to POST /admins"}}},
              "AdminTokenList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/AdminToken"}}}},
              "AuditEntry": {"type": "object", "required": ["id", "time", "actor", "action", "details"], "properties": {
                "id": {"type": "string"}, "time": {"type": "string", "format": "date-time"},
                "actor": {"type": "string", "description": "The admin token's name, or scheduler for a scheduled rotation"},
                "actor_id": {"type": "string"}, "address": {"type": "string", "description": "The client address the action came from"},
                "action": {"type": "string", "description": "Such as key.create, key.update, key.revoke, key.rotate, secret.put, secret.rotate, secret.delete, secret.reload, admin.create, admin.revoke, findings.report"},
                "target": {"type": "string", "description": "What was acted on: a key id, store:NAME, an admin token id"},
                "details": {"type": "string", "contentMediaType": "application/json", "description": "A JSON object, as text, with the action's details; never a secret value"}}},
              "AuditList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}}}},
              "Finding": {"type": "object", "required": ["rule", "path", "sha256"], "properties": {
                "rule": {"type": "string"}, "provider": {"type": ["string", "null"]}, "path": {"type": "string"}, "line": {"type": ["integer", "null"]}, "commit": {"type": ["string", "null"]},
                "sha256": {"type": "string", "description": "Fingerprint of the leaked key; never the key"},
                "reported_at": {"type": "string", "format": "date-time"},
                "managed_key_id": {"type": ["string", "null"], "description": "The virtual key it is, when it is one of this gateway's"},
                "owner": {"type": ["string", "null"], "description": "Whose machine it was found on (perimeter scan --sweep --report --owner)"},
                "hostname": {"type": ["string", "null"], "description": "The machine it was found on"},
                "classification": {"type": ["string", "null"], "enum": ["managed", "provider_key_held_by_gateway", "provider_key", null]}}},
              "FindingReport": {"type": "object", "additionalProperties": false, "required": ["rule", "path", "sha256"], "properties": {
                "rule": {"type": "string", "pattern": \#(AdminContract.ruleID.json)},
                "provider": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 64, "not": {"pattern": \#(TextPattern.jsonString(AdminContract.controlCharacter))}}, {"type": "null"}]},
                "path": {"type": "string", "minLength": 1, "maxLength": 4096},
                "line": {"type": ["integer", "null"], "minimum": 1, "maximum": 2147483647},
                "commit": {"type": ["string", "null"], "pattern": \#(AdminContract.commit.json)},
                "sha256": {"type": "string", "pattern": \#(AdminContract.sha256.json), "description": "Fingerprint of the leaked key; never the key"},
                "managed_key_id": {"type": ["string", "null"], "pattern": \#(AdminContract.keyID.json), "description": "The virtual key it is, when it is one of this gateway's"},
                "owner": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 128, "not": {"pattern": \#(TextPattern.jsonString(AdminContract.controlCharacter))}}, {"type": "null"}], "description": "Whose machine it was found on"},
                "hostname": {"anyOf": [{"type": "string", "minLength": 1, "maxLength": 253, "not": {"pattern": \#(TextPattern.jsonString(AdminContract.controlCharacter))}}, {"type": "null"}], "description": "The machine it was found on"},
                "classification": {"type": ["string", "null"], "enum": ["managed", "provider_key_held_by_gateway", "provider_key", null], "description": "managed: a Perimeter key; provider_key_held_by_gateway: the provider key the gateway itself holds (critical); provider_key: another raw provider key"}}},
              "InventoryKey": {"type": "object", "required": ["id", "name", "env", "generation", "created_at", "secret_issued_at", "age_days", "spend_usd", "spend_since", "status", "flags"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "env": {"type": "string"}, "owner": {"type": ["string", "null"]}, "generation": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"}, "secret_issued_at": {"type": "string", "format": "date-time"},
                "age_days": {"type": "integer", "description": "Age of the current secret"},
                "rotation_due": {"type": ["string", "null"], "format": "date-time", "description": "The earlier of the maximum age and the rotation schedule"},
                "last_used_at": {"type": ["string", "null"], "format": "date-time"}, "last_client_ip": {"type": ["string", "null"]},
                "spend_usd": {"type": "number", "description": "In the budget's period, or the calendar month (UTC) without a budget"},
                "spend_since": {"type": "string", "format": "date-time"},
                "budget": {"$ref": "#/components/schemas/Budget"},
                "status": {"type": "string", "enum": ["active", "revoked", "expired", "expiring", "stale", "canary"]},
                "flags": {"type": "array", "items": {"type": "string", "enum": ["no_owner", "over_max_age", "never_used", "stale", "expiring", "previous_secret_in_grace"]}}}},
              "InventoryCredential": {"type": "object", "required": ["reference", "store", "status", "used_by", "flags"], "properties": {
                "reference": {"type": "string"}, "store": {"type": "string"}, "status": {"type": "string", "enum": ["ok", "error"]},
                "version": {"type": ["string", "null"]}, "version_date": {"type": ["string", "null"], "format": "date-time"}, "version_updated": {"type": ["string", "null"], "format": "date-time"}, "age_days": {"type": ["integer", "null"]},
                "used_by": {"type": "array", "items": {"type": "string"}},
                "flags": {"type": "array", "items": {"type": "string", "enum": ["over_max_age", "unavailable"]}}}},
              "InventorySummary": {"type": "object", "required": ["env", "keys", "active", "revoked", "stale", "expiring", "over_max_age", "unowned", "spend_usd"], "properties": {
                "env": {"type": "string"}, "keys": {"type": "integer"}, "active": {"type": "integer"}, "revoked": {"type": "integer"}, "stale": {"type": "integer"},
                "expiring": {"type": "integer"}, "over_max_age": {"type": "integer"}, "unowned": {"type": "integer"}, "spend_usd": {"type": "number"}}},
              "InventoryLocation": {"type": "object", "required": ["path"], "properties": {
                "hostname": {"type": "string"}, "path": {"type": "string"}, "line": {"type": "integer"}, "reported_at": {"type": "string", "format": "date-time"}}},
              "InventoryFoundKey": {"type": "object", "required": ["sha256", "rule", "locations"], "properties": {
                "sha256": {"type": "string", "description": "Fingerprint of the key; never the key"}, "rule": {"type": "string"}, "provider": {"type": "string"},
                "classification": {"type": "string", "enum": ["managed", "provider_key_held_by_gateway", "provider_key"], "description": "The most serious any report gave it"},
                "managed_key_id": {"type": "string"},
                "locations": {"type": "array", "items": {"$ref": "#/components/schemas/InventoryLocation"}}}},
              "InventoryOwner": {"type": "object", "required": ["owner", "hostnames", "virtual_keys", "keys", "classifications"], "properties": {
                "owner": {"type": "string"}, "hostnames": {"type": "array", "items": {"type": "string"}},
                "virtual_keys": {"type": "array", "items": {"type": "string"}, "description": "Ids of the live virtual keys whose owner is this name"},
                "keys": {"type": "array", "items": {"$ref": "#/components/schemas/InventoryFoundKey"}, "description": "Keys found on their machines, one per secret"},
                "classifications": {"type": "object", "additionalProperties": {"type": "integer"}, "description": "How many of keys have each classification"}}},
              "Inventory": {"type": "object", "required": ["generated_at", "keys", "credentials", "findings", "summary", "owners"], "properties": {
                "generated_at": {"type": "string", "format": "date-time"},
                "keys": {"type": "array", "items": {"$ref": "#/components/schemas/InventoryKey"}},
                "credentials": {"type": "array", "items": {"$ref": "#/components/schemas/InventoryCredential"}},
                "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}},
                "summary": {"type": "array", "items": {"$ref": "#/components/schemas/InventorySummary"}, "description": "Per environment"},
                "owners": {"type": "array", "items": {"$ref": "#/components/schemas/InventoryOwner"}, "description": "Which keys each person has: what scans reported from their machines, and the virtual keys issued to them"},
                "provider_keys": {"type": "array", "items": {"$ref": "#/components/schemas/ProviderKey"}},
                "provider_sync": {"type": "array", "items": {"$ref": "#/components/schemas/ProviderSync"}}}},
              "ProviderKey": {"type": "object", "required": ["provider", "id", "kind", "status", "managed", "flags"], "properties": {
                "provider": {"type": "string"}, "id": {"type": "string", "description": "The provider's id for the key"},
                "kind": {"type": "string", "enum": ["api_key", "service_account_key", "admin_key"]},
                "name": {"type": ["string", "null"]}, "hint": {"type": ["string", "null"], "description": "The provider's redacted form"},
                "owner": {"type": ["string", "null"]}, "scope": {"type": ["string", "null"], "description": "Project (OpenAI) or workspace (Anthropic)"},
                "scope_name": {"type": ["string", "null"]}, "status": {"type": "string"},
                "created_at": {"type": ["string", "null"], "format": "date-time"}, "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                "held_as": {"type": ["string", "null"], "description": "The secret reference of the credential the gateway holds that this key is"},
                "managed": {"type": "boolean"}, "age_days": {"type": ["integer", "null"]},
                "flags": {"type": "array", "items": {"type": "string", "enum": ["unmanaged", "unverified", "unused_90d", "over_max_age"]}}}},
              "ProviderSync": {"type": "object", "required": ["provider", "status", "attempted_at", "keys"], "properties": {
                "provider": {"type": "string"}, "status": {"type": "string", "enum": ["ok", "refused", "unreachable", "error"]},
                "message": {"type": ["string", "null"]}, "attempted_at": {"type": "string", "format": "date-time"},
                "synced_at": {"type": ["string", "null"], "format": "date-time"}, "keys": {"type": "integer"}}}
            }
          }
        }
        """#
}
