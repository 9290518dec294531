//! Arrow column builders laid out like a message descriptor: records decoded
//! as [`DynamicMessage`]s are appended field by field, and every so many
//! rows turned into a [`RecordBatch`]. Generic over the schema: a new record
//! type or field needs no code here.

use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampNanosecondBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{ArrayRef, ListArray, RecordBatch, StructArray};
use arrow_buffer::{NullBufferBuilder, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, FieldRef, Fields, SchemaRef};
use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value,
};

use crate::schema::{arrow_field, arrow_schema, is_timestamp, list_item, MAX_DEPTH, TIMESTAMP_TZ};
use crate::Error;

/// The builders of every column of one record type.
pub struct RecordColumns {
    schema: SchemaRef,
    fields: Vec<(FieldDescriptor, Column)>,
    rows: usize,
}

impl std::fmt::Debug for RecordColumns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordColumns")
            .field("schema", &self.schema)
            .field("rows", &self.rows)
            .finish()
    }
}

impl RecordColumns {
    /// Empty columns for the records of `desc`.
    pub fn new(desc: &MessageDescriptor) -> Result<Self, Error> {
        let schema = Arc::new(arrow_schema(desc)?);
        let fields = desc
            .fields()
            .map(|f| Column::for_field(&f, 0).map(|c| (f, c)))
            .collect::<Result<_, _>>()?;
        Ok(RecordColumns {
            schema,
            fields,
            rows: 0,
        })
    }

    /// The Arrow schema of the batches.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Rows appended since the last [`RecordColumns::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Appends one record as a row.
    pub fn append(&mut self, msg: &DynamicMessage) -> Result<(), Error> {
        for (f, col) in &mut self.fields {
            col.append_field(msg, f)?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows appended so far as a batch; the builders start empty again.
    pub fn finish(&mut self) -> Result<RecordBatch, Error> {
        let arrays = self
            .fields
            .iter_mut()
            .map(|(_, c)| c.finish())
            .collect::<Result<Vec<_>, _>>()?;
        self.rows = 0;
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), arrays)?)
    }
}

/// The builder of one column (or of the elements of a list column).
enum Column {
    Bool(BooleanBuilder),
    I32(Int32Builder),
    I64(Int64Builder),
    Timestamp(TimestampNanosecondBuilder),
    U32(UInt32Builder),
    U64(UInt64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Bytes(BinaryBuilder),
    /// Enum values as their names (the number when it has none).
    Enum(StringBuilder, EnumDescriptor),
    Struct(StructColumn),
    List(Box<ListColumn>),
}

/// A message: one child column per field, null when the field is unset.
struct StructColumn {
    fields: Vec<FieldDescriptor>,
    arrow_fields: Fields,
    children: Vec<Column>,
    nulls: NullBufferBuilder,
}

/// A repeated field (or map): offsets into the column of its elements.
struct ListColumn {
    item: FieldRef,
    offsets: Vec<i32>,
    values: Column,
}

impl Column {
    /// The column of a field: a list for repeated fields and maps.
    fn for_field(field: &FieldDescriptor, depth: usize) -> Result<Column, Error> {
        let element = Column::for_element(field, depth)?;
        if field.is_list() || field.is_map() {
            let item = list_item(element.data_type());
            Ok(Column::List(Box::new(ListColumn {
                item,
                offsets: vec![0],
                values: element,
            })))
        } else {
            Ok(element)
        }
    }

    /// The column of single values of a field.
    fn for_element(field: &FieldDescriptor, depth: usize) -> Result<Column, Error> {
        Ok(match field.kind() {
            Kind::Bool => Column::Bool(BooleanBuilder::new()),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Column::I32(Int32Builder::new()),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 if is_timestamp(field) => {
                Column::Timestamp(TimestampNanosecondBuilder::new().with_timezone(TIMESTAMP_TZ))
            }
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Column::I64(Int64Builder::new()),
            Kind::Uint32 | Kind::Fixed32 => Column::U32(UInt32Builder::new()),
            Kind::Uint64 | Kind::Fixed64 => Column::U64(UInt64Builder::new()),
            Kind::Float => Column::F32(Float32Builder::new()),
            Kind::Double => Column::F64(Float64Builder::new()),
            Kind::String => Column::Str(StringBuilder::new()),
            Kind::Bytes => Column::Bytes(BinaryBuilder::new()),
            Kind::Enum(e) => Column::Enum(StringBuilder::new(), e),
            Kind::Message(m) => Column::Struct(StructColumn::new(&m, depth + 1)?),
        })
    }

    /// The Arrow type of the built array.
    fn data_type(&self) -> DataType {
        match self {
            Column::Bool(_) => DataType::Boolean,
            Column::I32(_) => DataType::Int32,
            Column::I64(_) => DataType::Int64,
            Column::Timestamp(_) => DataType::Timestamp(
                arrow_schema::TimeUnit::Nanosecond,
                Some(TIMESTAMP_TZ.into()),
            ),
            Column::U32(_) => DataType::UInt32,
            Column::U64(_) => DataType::UInt64,
            Column::F32(_) => DataType::Float32,
            Column::F64(_) => DataType::Float64,
            Column::Str(_) | Column::Enum(..) => DataType::Utf8,
            Column::Bytes(_) => DataType::Binary,
            Column::Struct(s) => DataType::Struct(s.arrow_fields.clone()),
            Column::List(l) => DataType::List(Arc::clone(&l.item)),
        }
    }

    /// Appends the value of `field` in `msg` (this column is the field's).
    fn append_field(&mut self, msg: &DynamicMessage, field: &FieldDescriptor) -> Result<(), Error> {
        match self {
            Column::List(list) => list.append(&msg.get_field(field), field),
            Column::Struct(s) => {
                if !msg.has_field(field) {
                    s.append_null();
                    return Ok(());
                }
                match msg.get_field(field).as_ref() {
                    Value::Message(m) => s.append_message(m),
                    other => Err(mismatch(field, other)),
                }
            }
            _ => self.append_value(&msg.get_field(field), field),
        }
    }

    /// Appends one value (one element, for a list's element column).
    fn append_value(&mut self, v: &Value, field: &FieldDescriptor) -> Result<(), Error> {
        match (self, v) {
            (Column::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Column::I32(b), Value::I32(x)) => b.append_value(*x),
            (Column::I64(b), Value::I64(x)) => b.append_value(*x),
            (Column::Timestamp(b), Value::I64(x)) => b.append_value(*x),
            (Column::U32(b), Value::U32(x)) => b.append_value(*x),
            (Column::U64(b), Value::U64(x)) => b.append_value(*x),
            (Column::F32(b), Value::F32(x)) => b.append_value(*x),
            (Column::F64(b), Value::F64(x)) => b.append_value(*x),
            (Column::Str(b), Value::String(x)) => b.append_value(x),
            (Column::Bytes(b), Value::Bytes(x)) => b.append_value(x),
            (Column::Enum(b, e), Value::EnumNumber(n)) => match e.get_value(*n) {
                Some(ev) => b.append_value(ev.name()),
                None => b.append_value(n.to_string()),
            },
            (Column::Struct(s), Value::Message(m)) => return s.append_message(m),
            (_, other) => return Err(mismatch(field, other)),
        }
        Ok(())
    }

    /// Appends a placeholder under a null parent: never seen by readers, it
    /// only keeps the children as long as their parent.
    fn append_default(&mut self) {
        match self {
            Column::Bool(b) => b.append_value(false),
            Column::I32(b) => b.append_value(0),
            Column::I64(b) => b.append_value(0),
            Column::Timestamp(b) => b.append_value(0),
            Column::U32(b) => b.append_value(0),
            Column::U64(b) => b.append_value(0),
            Column::F32(b) => b.append_value(0.0),
            Column::F64(b) => b.append_value(0.0),
            Column::Str(b) | Column::Enum(b, _) => b.append_value(""),
            Column::Bytes(b) => b.append_value(b""),
            Column::Struct(s) => s.append_null(),
            Column::List(l) => {
                let last = l.offsets.last().copied().unwrap_or(0);
                l.offsets.push(last);
            }
        }
    }

    /// The values appended so far as an array; the builder starts empty again.
    fn finish(&mut self) -> Result<ArrayRef, Error> {
        Ok(match self {
            Column::Bool(b) => Arc::new(b.finish()),
            Column::I32(b) => Arc::new(b.finish()),
            Column::I64(b) => Arc::new(b.finish()),
            Column::Timestamp(b) => Arc::new(b.finish()),
            Column::U32(b) => Arc::new(b.finish()),
            Column::U64(b) => Arc::new(b.finish()),
            Column::F32(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::Str(b) | Column::Enum(b, _) => Arc::new(b.finish()),
            Column::Bytes(b) => Arc::new(b.finish()),
            Column::Struct(s) => Arc::new(s.finish()?),
            Column::List(l) => Arc::new(l.finish()?),
        })
    }
}

fn mismatch(field: &FieldDescriptor, v: &Value) -> Error {
    Error::Mismatch {
        field: field.full_name().to_string(),
        value: format!("{v:?}").chars().take(80).collect(),
    }
}

impl StructColumn {
    fn new(desc: &MessageDescriptor, depth: usize) -> Result<Self, Error> {
        if depth > MAX_DEPTH {
            return Err(Error::TooDeep(desc.full_name().to_string()));
        }
        let fields: Vec<FieldDescriptor> = desc.fields().collect();
        let arrow_fields = fields
            .iter()
            .map(|f| arrow_field(f, depth))
            .collect::<Result<Vec<_>, _>>()?;
        let children = fields
            .iter()
            .map(|f| Column::for_field(f, depth))
            .collect::<Result<_, _>>()?;
        Ok(StructColumn {
            fields,
            arrow_fields: Fields::from(arrow_fields),
            children,
            nulls: NullBufferBuilder::new(0),
        })
    }

    fn append_message(&mut self, m: &DynamicMessage) -> Result<(), Error> {
        for (f, col) in self.fields.iter().zip(&mut self.children) {
            col.append_field(m, f)?;
        }
        self.nulls.append_non_null();
        Ok(())
    }

    fn append_null(&mut self) {
        for col in &mut self.children {
            col.append_default();
        }
        self.nulls.append_null();
    }

    /// A map entry: its key, then its value.
    fn append_entry(&mut self, key: &MapKey, value: &Value) -> Result<(), Error> {
        let key = match key {
            MapKey::Bool(b) => Value::Bool(*b),
            MapKey::I32(n) => Value::I32(*n),
            MapKey::I64(n) => Value::I64(*n),
            MapKey::U32(n) => Value::U32(*n),
            MapKey::U64(n) => Value::U64(*n),
            MapKey::String(s) => Value::String(s.clone()),
        };
        let mut it = self.fields.iter().zip(&mut self.children);
        if let (Some((kf, kc)), Some((vf, vc))) = (it.next(), it.next()) {
            kc.append_value(&key, kf)?;
            vc.append_value(value, vf)?;
        }
        self.nulls.append_non_null();
        Ok(())
    }

    fn finish(&mut self) -> Result<StructArray, Error> {
        let len = self.nulls.len();
        let arrays = self
            .children
            .iter_mut()
            .map(Column::finish)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(StructArray::try_new_with_length(
            self.arrow_fields.clone(),
            arrays,
            self.nulls.finish(),
            len,
        )?)
    }
}

impl ListColumn {
    fn append(&mut self, v: &Value, field: &FieldDescriptor) -> Result<(), Error> {
        match v {
            Value::List(items) => {
                for item in items {
                    self.values.append_value(item, field)?;
                }
            }
            Value::Map(map) => {
                let Column::Struct(entries) = &mut self.values else {
                    return Err(mismatch(field, v));
                };
                // Sorted by key: a map's order is not kept by protobuf, and
                // the output must not depend on hashing.
                let mut sorted: Vec<_> = map.iter().collect();
                sorted.sort_by(|a, b| a.0.cmp(b.0));
                for (k, val) in sorted {
                    entries.append_entry(k, val)?;
                }
            }
            other => return Err(mismatch(field, other)),
        }
        let end = i32::try_from(self.values_len()).map_err(|_| Error::ListTooLong)?;
        self.offsets.push(end);
        Ok(())
    }

    /// Elements appended so far.
    fn values_len(&self) -> usize {
        use arrow_array::builder::ArrayBuilder;
        match &self.values {
            Column::Bool(b) => b.len(),
            Column::I32(b) => b.len(),
            Column::I64(b) => b.len(),
            Column::Timestamp(b) => b.len(),
            Column::U32(b) => b.len(),
            Column::U64(b) => b.len(),
            Column::F32(b) => b.len(),
            Column::F64(b) => b.len(),
            Column::Str(b) | Column::Enum(b, _) => b.len(),
            Column::Bytes(b) => b.len(),
            Column::Struct(s) => s.nulls.len(),
            Column::List(l) => l.offsets.len().saturating_sub(1),
        }
    }

    fn finish(&mut self) -> Result<ListArray, Error> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        let values = self.values.finish()?;
        Ok(ListArray::try_new(
            Arc::clone(&self.item),
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            None,
        )?)
    }
}
