// Package policies owns the data-sharing agreements between agencies and the
// policy engine that reads them. It is the only place in the bus that can allow
// an access: every delivery of a change stream and every lookup or verification
// asks this package first, and anything it does not explicitly allow is denied.
//
// # Agreements
//
// An agreement is one YAML file under agreements/ (embedded in the binary) or in
// an operator's own folder (LoadDir). The rule is one agreement per file, named
// after its id (the loader enforces one per file; the tests hold the shipped
// files to the naming): one file is one legal instrument that can be reviewed,
// signed off, versioned and removed on its own, and a broken file names exactly
// one agreement. A file holds a single YAML document whose keys are those of
// [Agreement]; agreement.schema.json is the full contract, and every file is
// validated against it, then against the schemas catalog (the dataset and its
// fields must exist), when it is loaded.
//
//	id: vss-birth-registration-under6
//	dataset: civil_status.birth_registration   # provider dataset, from schemas/catalog.yaml
//	consumer: vss                              # consuming agency id
//	title: Birth registrations for health insurance cards of children under 6
//	legal_basis: Decree 63/2024/ND-CP …        # required: why the law allows it
//	purposes: [health_insurance_issuance]      # required: what the data may be used for
//	mode: stream                               # stream | lookup | verify
//	fields: [registration_no, child_cccd, child_name, mother_name]
//	mask: {mother_name: initials}              # last4 | year_only | initials
//	filter: [{field: birth_province, in: ["079", "001"]}]
//	valid_from: 2024-07-01                     # inclusive, Vietnam time
//	valid_until: 2029-06-30                    # inclusive, Vietnam time
//	case_reference_required: false             # lookup/verify only
//
// Loading is all or nothing: [Load] reports every problem of every file at once
// (file, line, what to fix) and returns no [Set] if there is any. A [Set] is
// immutable; an [Engine] serves one Set at a time and [Engine.Reload] swaps it
// atomically, so a bad edit never replaces the agreements in force.
//
// An operator's folder can also be changed one agreement at a time
// ([Folder]): [Folder.Put] and [Folder.Delete] return the set the folder
// would hold, validated with every other file exactly as a reload loads
// them, and [Folder.Write] then writes the change atomically.
//
// # Agencies
//
// The registry ([Agencies], agencies/agencies.yaml) lists the member
// agencies and their state; it also names the agency that owns each source
// of the catalog (the only one that may push its records) and the agencies
// with the auditor role. [Agencies.CheckConsumers] and
// [Agencies.CheckSources] tie agreements and catalog to it.
//
// # Decisions
//
// Stream deliveries ask [Engine.StreamTargets] which agreements receive a
// dataset's changes now, and [Grant.Project] cuts each row down to what one
// agreement releases. Lookups and verifications ask [Engine.Decide], which
// either allows naming the agreement and its legal basis, or denies with a
// stable reason code (see the Reason constants) that the audit log records.
package policies
