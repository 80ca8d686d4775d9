//! Roles and what each may do (DESIGN.md, "Security"): `admin` (users, settings), `manager`
//! (catalog, counts, resolving alerts), `clerk` (movements at assigned locations), `viewer`
//! (read only). Each role includes everything below it. The desktop hides and refuses by these
//! rules; the server enforces them on every request.
//!
//! Must not: know which locations a clerk is assigned to (the server holds assignments).

use crate::intent::MovementIntent;
use serde::{Deserialize, Serialize};

/// A user's role.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Read only.
    Viewer,
    /// Movements at assigned locations.
    Clerk,
    /// Catalog, counts, resolving alerts, and everything a clerk may do.
    Manager,
    /// Users and settings, and everything a manager may do.
    Admin,
}

/// Something a user may or may not do.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Receive, issue, adjust, transfer, void.
    RecordMovements,
    /// Record a stocktake count.
    RecordCounts,
    /// Create and edit products and locations, import CSV.
    EditCatalog,
    /// Acknowledge and resolve alerts.
    ResolveAlerts,
    /// Manage users and settings.
    ManageUsers,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 5] = [
        Permission::RecordMovements,
        Permission::RecordCounts,
        Permission::EditCatalog,
        Permission::ResolveAlerts,
        Permission::ManageUsers,
    ];

    /// The least role that has it.
    pub fn least_role(self) -> Role {
        match self {
            Permission::RecordMovements => Role::Clerk,
            Permission::RecordCounts | Permission::EditCatalog | Permission::ResolveAlerts => Role::Manager,
            Permission::ManageUsers => Role::Admin,
        }
    }

    /// What recording `intent` needs.
    pub fn to_record(intent: &MovementIntent) -> Permission {
        match intent {
            MovementIntent::Count { .. } => Permission::RecordCounts,
            _ => Permission::RecordMovements,
        }
    }
}

impl Role {
    /// Every role, least first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Clerk, Role::Manager, Role::Admin];

    /// Text form as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Clerk => "clerk",
            Role::Viewer => "viewer",
        }
    }

    /// Parses the text form.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Whether this role includes everything `other` may do.
    pub fn at_least(self, other: Role) -> bool {
        self >= other
    }

    /// Whether this role has `permission`.
    pub fn may(self, permission: Permission) -> bool {
        self.at_least(permission.least_role())
    }

    /// The permissions this role has.
    pub fn permissions(self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|p| self.may(*p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_below_it() {
        assert_eq!(Role::Viewer.permissions(), vec![]);
        assert_eq!(Role::Clerk.permissions(), vec![Permission::RecordMovements]);
        assert!(!Role::Clerk.may(Permission::RecordCounts));
        assert!(Role::Manager.may(Permission::RecordCounts) && Role::Manager.may(Permission::ResolveAlerts));
        assert!(!Role::Manager.may(Permission::ManageUsers));
        assert_eq!(Role::Admin.permissions(), Permission::ALL.to_vec());
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
