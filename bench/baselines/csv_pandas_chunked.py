"""pandas, chunked (the seed's loop): files in batches of 50, each read in 100k-row chunks, appended
to one parquet file through a pyarrow ``ParquetWriter``."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _common import COMPRESSION, TIMESTAMP_COLUMNS, TIMESTAMP_FORMAT, emit, parse_args

FILES_PER_BATCH = 50
CHUNK_ROWS = 100_000

args = parse_args(__doc__.splitlines()[0])
rows = 0
writer = None
try:
    for i in range(0, len(args.files), FILES_PER_BATCH):
        for path in args.files[i : i + FILES_PER_BATCH]:
            for chunk in pd.read_csv(path, chunksize=CHUNK_ROWS):
                for c in TIMESTAMP_COLUMNS:
                    chunk[c] = pd.to_datetime(chunk[c], format=TIMESTAMP_FORMAT)
                table = pa.Table.from_pandas(chunk, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(args.output, table.schema, compression=COMPRESSION)
                writer.write_table(table.cast(writer.schema))
                rows += len(chunk)
finally:
    if writer is not None:
        writer.close()
emit(args, rows)
