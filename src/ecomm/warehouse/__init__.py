"""The warehouse: migrations, validated loads (COPY -> staging -> merge), quality checks, marts."""
