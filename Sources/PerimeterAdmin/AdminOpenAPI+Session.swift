extension AdminOpenAPI {
    /// The whole document: the core paths with the console's session paths added.
    static let document =
        core
        .replacing("\"paths\": {\n", with: "\"paths\": {\n" + sessionPaths + ",\n", maxReplacements: 1)
        .replacing("\"schemas\": {\n", with: "\"schemas\": {\n" + sessionSchema + ",\n", maxReplacements: 1)

    static let sessionSchema = #"""
                  "Session": {"type": "object", "required": ["admin_id", "name", "role", "idle_timeout_seconds"], "properties": {
                    "admin_id": {"type": "string"}, "name": {"type": "string"}, "role": {"type": "string", "enum": ["admin", "viewer"]},
                    "csrf_token": {"type": ["string", "null"]}, "expires_at": {"type": ["string", "null"], "format": "date-time"},
                    "idle_timeout_seconds": {"type": "integer"}}}
        """#

    /// `/session`: the console's sign-in, sign-out and "who am I".
    static let sessionPaths = #"""
                "/session": {
                  "post": {
                    "summary": "Sign in to the console: exchange an admin or viewer token (in the body, never a URL) for a session cookie (HttpOnly, SameSite=Strict, Secure over TLS) and the CSRF token its writes must carry in X-CSRF-Token",
                    "security": [],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["token"], "additionalProperties": false, "properties": {"token": {"type": "string"}}}}}},
                    "responses": {"201": {"description": "Signed in; the session cookie is set", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}, "404": {"description": "The console is turned off (console.enabled: false)"}, "413": {"$ref": "#/components/responses/Error"}}
                  },
                  "get": {
                    "summary": "Who is signed in; for a console session, its CSRF token (for a reloaded page)",
                    "security": [{"adminToken": []}, {"consoleSession": []}],
                    "responses": {"200": {"description": "The identity", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Session"}}}}, "401": {"$ref": "#/components/responses/Error"}}
                  },
                  "delete": {
                    "summary": "Sign out: the session ends on the server and its cookie is cleared. Needs X-CSRF-Token; a viewer may sign out. With a Bearer token there is no session: 204 and nothing changes",
                    "security": [{"adminToken": []}, {"consoleSession": []}],
                    "responses": {"204": {"description": "Signed out"}, "400": {"$ref": "#/components/responses/Error"}, "401": {"$ref": "#/components/responses/Error"}, "403": {"$ref": "#/components/responses/Error"}}
                  }
                }
        """#
}
