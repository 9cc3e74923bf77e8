import { ConflictException, HttpException, HttpStatus, NotFoundException } from '@nestjs/common'
import { RemoteError } from '@yieldpoint/core'
import { describe, expect, it } from 'vitest'
import { reviveHttpException, reviveHttpExceptionWith, serializeHttpException } from '../src'

const cross = (e: unknown, revive = reviveHttpException) => revive(JSON.parse(JSON.stringify(serializeHttpException(e))))

describe('HttpExceptions across processes', () => {
  it('a NotFoundException is revived as a NotFoundException with the same status, message and body', () => {
    const original = new NotFoundException('no product 7')
    const back = cross(original) as NotFoundException
    expect(back).toBeInstanceOf(NotFoundException)
    expect(back.getStatus()).toBe(404)
    expect(back.message).toBe('no product 7')
    expect(back.getResponse()).toEqual(original.getResponse())
  })

  it('a custom HttpException keeps its status (and its class when registered); plain errors become RemoteError', () => {
    class OutOfStockException extends ConflictException {}
    const custom = new OutOfStockException({ message: 'sold out', sku: 7 })
    const generic = cross(custom) as HttpException
    expect(generic).toBeInstanceOf(HttpException)
    expect(generic.getStatus()).toBe(HttpStatus.CONFLICT)
    expect(generic.getResponse()).toEqual({ message: 'sold out', sku: 7 })
    expect(cross(custom, reviveHttpExceptionWith([OutOfStockException]))).toBeInstanceOf(OutOfStockException)
    const plain = cross(Object.assign(new Error('db down'), { code: 'ECONNREFUSED' })) as RemoteError
    expect(plain).toBeInstanceOf(RemoteError)
    expect([plain.message, plain.code]).toEqual(['db down', 'ECONNREFUSED'])
  })
})
