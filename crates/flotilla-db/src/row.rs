//! Reading columns without panicking: a bad row is an error that names the column.

use crate::error::{DbError, DbResult};
use sqlx::any::AnyRow;
use sqlx::{Any, Decode, Row, Type};

pub trait RowExt {
    /// The value of column `name`, or [`DbError::Corrupt`] saying which column and why.
    fn col<'r, T>(&'r self, name: &str) -> DbResult<T>
    where
        T: Decode<'r, Any> + Type<Any>;
}

impl RowExt for AnyRow {
    fn col<'r, T>(&'r self, name: &str) -> DbResult<T>
    where
        T: Decode<'r, Any> + Type<Any>,
    {
        self.try_get(name).map_err(|e| DbError::corrupt(format!("column {name}"), e))
    }
}
