import PerimeterAdminModels
import PerimeterCore
import PerimeterRotation

extension RotationView {
    /// The stored schedule, after checking durations and the delivery target; `nil` when it asks for nothing.
    func schedule(targets: DeliveryTargets) throws -> RotationSchedule? {
        func seconds(_ text: String?, _ field: String, minimum: Double) throws -> Int64? {
            guard let text else { return nil }
            guard let value = TimeWindow.seconds(text), value >= minimum else {
                throw GatewayError.invalidRequest("'rotation.\(field)' must be a duration such as 1h, 30d (at least \(Int(minimum))s).")
            }
            return Int64(value)
        }
        let every = try seconds(every, "every", minimum: 1)
        let grace = try seconds(grace, "grace", minimum: 0) ?? 86400
        if let deliverTo { _ = try targets.validate(deliverTo) }
        guard every != nil || deliverTo != nil else { return nil }
        return RotationSchedule(everySeconds: every, graceSeconds: grace, deliverTo: deliverTo)
    }
}
