"""Operations: the named workflows the CLI, the API and jobs share (interfaces only parse and print)."""
