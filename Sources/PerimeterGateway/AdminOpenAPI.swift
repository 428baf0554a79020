/// The admin API's OpenAPI 3.1 description, served at `/admin/v1/openapi.json`.
enum AdminOpenAPI {
    static let document = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "Perimeter admin API",
            "version": "1",
            "description": "Manage virtual keys and read the call log and spend of a Perimeter gateway. Every request needs 'Authorization: Bearer <admin token>'. Errors are {\"error\":{\"message\",\"type\",\"param\",\"code\"}}."
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
                "summary": "Create a virtual key; the response shows its secret once",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateKey"}}}},
                "responses": {"201": {"description": "The new key, with 'key'", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/keys/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
              "get": {
                "summary": "One virtual key",
                "responses": {"200": {"description": "The key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "404": {"$ref": "#/components/responses/Error"}}
              },
              "patch": {
            "summary": "Change a key's name, owner or limits; applies from the next request, all or nothing",
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UpdateKey"}}}},
            "responses": {"200": {"description": "The updated key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
          },
          "delete": {
                "summary": "Revoke a virtual key (its record and history are kept); repeating it changes nothing",
                "responses": {"200": {"description": "The revoked key", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Key"}}}}, "404": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/calls": {
              "get": {
                "summary": "The call log, newest first",
                "parameters": [
                  {"name": "key_id", "in": "query", "schema": {"type": "string"}},
                  {"name": "env", "in": "query", "schema": {"type": "string"}},
                  {"name": "since", "in": "query", "schema": {"type": "string"}, "description": "A duration back from now (90s, 15m, 1h, 30d, 4w) or an RFC 3339 time"},
                  {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}
                ],
                "responses": {"200": {"description": "Calls", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CallList"}}}}, "400": {"$ref": "#/components/responses/Error"}}
              }
            },
            "/spend": {
              "get": {
                "summary": "Spend totals per key, environment, model or owner",
                "parameters": [
                  {"name": "group_by", "in": "query", "schema": {"type": "string", "enum": ["key", "env", "model", "owner"], "default": "key"}},
                  {"name": "since", "in": "query", "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "Spend", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Spend"}}}}, "400": {"$ref": "#/components/responses/Error"}}
              }
            }
          },
          "components": {
            "securitySchemes": {"adminToken": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "An error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
              "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["message", "type", "code"], "properties": {"message": {"type": "string"}, "type": {"type": "string"}, "param": {"type": ["string", "null"]}, "code": {"type": "string"}}}}},
              "CreateKey": {"type": "object", "required": ["name", "env"], "additionalProperties": false, "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 128}, "env": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,23}$"}, "owner": {"type": ["string", "null"]}, "limits": {"$ref": "#/components/schemas/Limits"}}},
          "UpdateKey": {"type": "object", "additionalProperties": false, "properties": {"name": {"type": "string"}, "owner": {"type": "string"}, "limits": {"$ref": "#/components/schemas/Limits", "description": "A present field sets that limit, null removes it, an absent field is left alone"}}},
          "Limits": {"type": "object", "properties": {
            "budget": {"type": ["object", "null"], "required": ["usd", "period"], "properties": {"usd": {"type": "number", "minimum": 0}, "period": {"type": "string", "enum": ["day", "week", "month", "total"]}}},
            "rpm": {"type": ["integer", "null"], "minimum": 1}, "tpm": {"type": ["integer", "null"], "minimum": 1},
            "allowed_ips": {"type": ["array", "null"], "items": {"type": "string", "description": "IPv4 or IPv6 address or CIDR"}},
            "models": {"type": ["array", "null"], "items": {"type": "string", "description": "Model pattern with * wildcards"}},
            "operations": {"type": ["array", "null"], "items": {"type": "string", "enum": ["chat", "responses", "embeddings", "messages", "models", "count_tokens"]}},
            "tools": {"oneOf": [{"type": "string", "enum": ["allow", "deny"]}, {"type": "array", "items": {"type": "string"}}, {"type": "null"}]},
            "expires_at": {"type": ["string", "null"], "format": "date-time"}}},
          "Budget": {"type": ["object", "null"], "properties": {"limit_usd": {"type": "number"}, "period": {"type": "string"}, "spent_usd": {"type": "number"}, "reserved_usd": {"type": "number"}, "remaining_usd": {"type": "number"}, "period_start": {"type": "string", "format": "date-time"}, "resets_at": {"type": ["string", "null"], "format": "date-time"}}},
              "Key": {"type": "object", "required": ["id", "name", "env", "prefix", "status", "created_at"], "properties": {
                "id": {"type": "string"}, "name": {"type": "string"}, "env": {"type": "string"}, "owner": {"type": ["string", "null"]},
                "prefix": {"type": "string", "description": "The displayable start of the secret"},
                "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
            "limits": {"$ref": "#/components/schemas/Limits"}, "budget": {"$ref": "#/components/schemas/Budget"}, "environment_budget": {"$ref": "#/components/schemas/Budget"},
                "created_at": {"type": "string", "format": "date-time"}, "revoked_at": {"type": ["string", "null"], "format": "date-time"},
                "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                "key": {"type": "string", "description": "The secret; only in the response to POST /keys"}}},
              "KeyList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Key"}}}},
              "Call": {"type": "object", "properties": {
                "id": {"type": "string"}, "time": {"type": "string", "format": "date-time"}, "key_id": {"type": ["string", "null"]}, "key_name": {"type": ["string", "null"]},
                "env": {"type": ["string", "null"]}, "owner": {"type": ["string", "null"]}, "client_ip": {"type": ["string", "null"]}, "provider": {"type": ["string", "null"]},
                "model": {"type": ["string", "null"]}, "operation": {"type": "string", "enum": ["chat", "responses", "embeddings", "messages", "models", "count_tokens"]},
                "stream": {"type": "boolean"}, "status": {"type": "integer"}, "outcome": {"type": "string", "enum": ["ok", "denied", "upstream_error", "stream_cut", "client_cancelled"]},
                "input_tokens": {"type": "integer"}, "cached_input_tokens": {"type": "integer"}, "cache_write_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
                "cost_usd": {"type": ["number", "null"], "description": "null when the model has no known price"}, "latency_ms": {"type": "integer"}, "error_code": {"type": ["string", "null"]}}},
              "CallList": {"type": "object", "required": ["data"], "properties": {"data": {"type": "array", "items": {"$ref": "#/components/schemas/Call"}}}},
              "SpendRow": {"type": "object", "properties": {"group": {"type": "string"}, "calls": {"type": "integer"}, "input_tokens": {"type": "integer"}, "cached_input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"}, "cost_usd": {"type": "number"}, "unpriced_calls": {"type": "integer"}}},
              "Spend": {"type": "object", "properties": {"group_by": {"type": "string"}, "since": {"type": ["string", "null"]}, "data": {"type": "array", "items": {"$ref": "#/components/schemas/SpendRow"}}, "total": {"$ref": "#/components/schemas/SpendRow"}}}
            }
          }
        }
        """#
}
