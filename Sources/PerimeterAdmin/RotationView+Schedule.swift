import PerimeterAdminModels
import PerimeterCore
import PerimeterRotation

extension RotationView {
    /// The stored schedule, after checking durations and the delivery target; `nil` when it asks for nothing.
    func schedule(targets: DeliveryTargets) throws -> RotationSchedule? {
        func seconds(_ text: String?, _ field: String, _ pattern: TextPattern, range: String) throws -> Int64? {
            guard let text else { return nil }
            guard pattern.matches(text), let value = TimeWindow.seconds(text) else {
                throw GatewayError.invalidRequest("'rotation.\(field)' must be a duration from \(range), such as 1h or 30d.")
            }
            return Int64(value)
        }
        let every = try seconds(every, "every", AdminContract.rotationEvery, range: "1s to 100 years")
        let grace = try seconds(grace, "grace", AdminContract.scheduleGrace, range: "0s to 100 years") ?? 86400
        if let deliverTo {
            guard AdminContract.deliveryTarget.matches(deliverTo) else {
                throw GatewayError.invalidRequest(
                    "'rotation.deliver_to' must be store:NAME, file:/PATH, vault:MOUNT/PATH#FIELD, aws-sm:ID[#FIELD], azure-kv:VAULT/SECRET or gcp-sm:projects/PROJECT/secrets/SECRET."
                )
            }
            _ = try targets.validate(deliverTo)
        }
        guard every != nil || deliverTo != nil else { return nil }
        return RotationSchedule(everySeconds: every, graceSeconds: grace, deliverTo: deliverTo)
    }
}
