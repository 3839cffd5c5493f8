"""pyarrow: streaming ``csv.open_csv`` reader, record batch by record batch, into a ``ParquetWriter``."""

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from _common import COMPRESSION, TIMESTAMP_COLUMNS, TIMESTAMP_FORMAT, emit, parse_args

args = parse_args(__doc__.splitlines()[0])
pa.set_cpu_count(args.threads)
pa.set_io_thread_count(args.threads)
convert = pcsv.ConvertOptions(
    column_types={c: pa.timestamp("us") for c in TIMESTAMP_COLUMNS}, timestamp_parsers=[TIMESTAMP_FORMAT]
)
rows = 0
writer = None
try:
    for path in args.files:
        reader = pcsv.open_csv(path, convert_options=convert)
        for batch in reader:
            if writer is None:
                # The first file's inferred types are the output's; later files are cast to them.
                writer = pq.ParquetWriter(args.output, reader.schema, compression=COMPRESSION)
            writer.write_batch(batch.cast(writer.schema) if batch.schema != writer.schema else batch)
            rows += batch.num_rows
finally:
    if writer is not None:
        writer.close()
emit(args, rows)
